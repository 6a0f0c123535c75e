"""What a ``kill -9`` in a busy session costs: contributions in flight at the kill, and how
many of them (and of the acknowledged ones) the journal kept.

    .venv/bin/python -m bench.kill_in_flight [--clients 20] [--lanes 4] [--seconds 5]

Starts ``dreamcommons host --journal`` as a child process, has ``clients`` dreamers each send
contributions without pause (``lanes`` requests outstanding each), kills the host with SIGKILL
mid-stream, and reads the journal: every acknowledged contribution must be in it; of those in
flight (sent, not yet acknowledged), some made it into the last commit and some did not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import tempfile
from pathlib import Path

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import ConnectionLost, Refused
from dreamcommons.server.engine import MotifContributed
from dreamcommons.server.journal.reading import iter_events
from dreamcommons.server.journal.schema import connect_reader
from tests.processes import end, free_port, host_command

MOTIFS = ("moon", "river", "lantern", "owl", "tide", "cocoon")


async def start_host(port: int, journal: Path) -> asyncio.subprocess.Process:
    unlimited = {
        "DREAMCOMMONS_CONTRIBUTIONS_PER_S": "100000",
        "DREAMCOMMONS_CONTRIBUTION_BURST": "100000",
    }
    process = await asyncio.create_subprocess_exec(
        *host_command(port, journal),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, **unlimited},  # the point is to have many contributions in flight
    )
    assert process.stdout is not None
    while b"hosting" not in await process.stdout.readline():
        if process.returncode is not None:
            raise SystemExit("the host did not start")
    asyncio.get_running_loop().create_task(process.stdout.read())  # keep the pipe drained
    return process


class Dreamer:
    def __init__(self, client: DreamClient) -> None:
        self.client = client
        self.acked: set[int] = set()
        self.in_flight = 0

    async def lane(self, offset: int) -> None:
        for motif in itertools.islice(itertools.cycle(MOTIFS), offset, None):
            try:
                self.acked.add(await self.client.contribute(motif, intensity=0.2))
            except (ConnectionLost, Refused):
                self.in_flight += 1
                return


async def run(clients: int, lanes: int, seconds: float, journal: Path) -> None:
    port = free_port()
    url = f"ws://127.0.0.1:{port}/commons"
    host = await start_host(port, journal)
    dreamers: list[Dreamer] = []
    try:
        async with contextlib.AsyncExitStack() as stack:
            for n in range(clients):
                client = await stack.enter_async_context(DreamClient(url, f"Dreamer {n}"))
                dreamers.append(Dreamer(client))
            tasks = [asyncio.create_task(d.lane(k)) for d in dreamers for k in range(lanes)]
            await asyncio.sleep(seconds)
            host.send_signal(signal.SIGKILL)
            await host.wait()
            await asyncio.gather(*tasks)
    finally:
        await end(host, 0.0, signal.SIGKILL)
    conn = connect_reader(journal)
    try:
        kept = {
            (e.participant, e.cid)
            for _, _, e in iter_events(conn, "commons")
            if isinstance(e, MotifContributed)
        }
    finally:
        conn.close()
    acked = {(d.client.participant, cid) for d in dreamers for cid in d.acked}
    in_flight = sum(d.in_flight for d in dreamers)
    survived = len(kept - acked)
    print(f"acknowledged before the kill: {len(acked):,}, all in the journal: {acked <= kept}")
    print(f"in flight at the kill: {in_flight}, in the journal after it: {survived}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(run(args.clients, args.lanes, args.seconds, Path(scratch) / "kill.sqlite"))


if __name__ == "__main__":
    main()
