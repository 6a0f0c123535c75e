"""A takeover on real processes: how long from a kill -9 of the owning engine to the clients'
snapshot of the new owner, and whether every acknowledged contribution is in it.

    .venv/bin/python -m bench.cluster_takeover [--trials 3] [--contributions 6]

Each trial starts a NATS (temporary store), two engines and a gateway, all ``dreamcommons
host --cluster``; a dreamer contributes and is acknowledged, a watcher follows the session on
the gateway, and the owner is killed. The figure is the time from the kill to the watcher's
first state of the new epoch (lease TTL 3 s: at most about 4 s by the lease's rules, plus the
gateway's one-second silence check); "lost" counts acknowledged motifs missing from the state
a tick later.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.server.cluster import NatsProcess
from tests.cluster.nodes import Node, node


async def owner(engines: list[Node], session: str) -> Node:
    for engine in engines:
        if session in (await engine.health())["cluster"]["owns"]:
            return engine
    raise AssertionError(f"no engine owns {session}")


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """The child processes' environment, with ``values`` set for a while."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def trial(root: Path, contributions: int) -> tuple[float, int]:
    """Seconds from the kill to the watcher's new state; acknowledged motifs lost."""
    with environment(DREAMCOMMONS_SNAPSHOT_EVERY_S="1"):
        async with (
            NatsProcess(store_dir=root / "nats") as nats,
            node(nats, "engine", root / "state") as first,
            node(nats, "engine", root / "state") as second,
            node(nats, "gateway", root / "state") as gateway,
        ):
            url = f"{gateway.url}/isle"
            async with (
                DreamClient(url, "Kai", role="watcher") as kai,
                DreamClient(url, "Lyra") as lyra,
            ):
                acked = []
                for n in range(contributions):
                    await lyra.contribute(f"motif-{n}")
                    acked.append(f"motif-{n}")
                    await asyncio.sleep(0.2)
                dead = await owner([first, second], "isle")
                epoch = kai.state.epoch
                killed = time.perf_counter()
                await dead.kill()
                state = await kai.wait_for(lambda s: s.epoch != epoch, 30)
                taken = time.perf_counter() - killed
                seq = state.seq
                state = await kai.wait_for(lambda s: s.seq > seq, 5)
                names = {m.name for m in state.motifs}
                return taken, sum(1 for name in acked if name not in names)


async def run(trials: int, contributions: int) -> None:
    results = []
    for n in range(trials):
        with tempfile.TemporaryDirectory(prefix="dreamcommons-takeover-") as tmp:
            taken, lost = await trial(Path(tmp), contributions)
        results.append((taken, lost))
        print(
            f"trial {n + 1}: new owner's state at the watcher {taken:.2f} s after the kill, "
            f"{lost} of {contributions} acknowledged contributions lost"
        )
    worst = max(taken for taken, _ in results)
    lost = sum(lost for _, lost in results)
    print(f"{trials} kills: takeover at most {worst:.2f} s, {lost} acknowledged lost")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--contributions", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(run(args.trials, args.contributions))


if __name__ == "__main__":
    main()
