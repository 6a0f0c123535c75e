"""What join-and-leave floods cost a server: the welcome's size and the server's memory.

    python -m bench.ghosts                       # 10,000 cycles
    python -m bench.ghosts --cycles 2000 --parallel 32

Starts ``dreamcommons host`` as a child process with the default member settings, except the
per-address rate of new members, lifted so that one machine can play a crowd of addresses.
Each cycle opens a connection, joins ``commons`` with its code, reads the welcome and closes.
At the end one more participant joins; the last line is a JSON object: ``cycles``,
``seconds``, ``refused`` (by code), ``welcome_json_bytes``, ``welcome_msgpack_bytes``,
``listed`` (participants in that welcome), ``rss_mb_before`` and ``rss_mb_after``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import Counter
from typing import Any

from websockets.asyncio.client import connect

from bench.measure import rss_bytes
from dreamcommons.contracts.protocol import Encoding, Join, Welcome, decode_server, encode
from dreamcommons.server.auth import Gatekeeper
from tests.processes import end, free_port, host_command
from tests.waiting import eventually, within

SECRET = "bench-ghosts-secret-not-for-use"
SESSION = "commons"
ENVIRONMENT = {
    "DREAMCOMMONS_SECRET": SECRET,
    "DREAMCOMMONS_NEW_MEMBERS_PER_S": "1000000",
    "DREAMCOMMONS_NEW_MEMBER_BURST": "1000000",
}


async def cycle(url: str, join: Join, encoding: Encoding, refused: Counter[str]) -> bytes | str:
    """Join, read the answer, close; the welcome's frame (or "" after a refusal)."""
    async with connect(url, subprotocols=[encoding.value], max_size=None) as ws:  # type: ignore[list-item]
        await ws.send(encode(join, encoding))
        async with asyncio.timeout(within(10)):
            while True:
                frame = await ws.recv()
                reply = decode_server(frame, encoding)
                if isinstance(reply, Welcome):
                    return frame
                if reply.type == "error":
                    refused[str(getattr(reply, "code", "?"))] += 1
                    return ""


async def answers(url: str) -> bool:
    try:
        async with connect(url, subprotocols=[Encoding.JSON.value]):  # type: ignore[list-item]
            return True
    except OSError:
        return False


async def run(cycles: int, parallel: int) -> dict[str, Any]:
    port = free_port()
    url = f"ws://127.0.0.1:{port}/{SESSION}"
    process = await asyncio.create_subprocess_exec(
        *host_command(port, private=SESSION),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, **ENVIRONMENT},
    )
    try:
        await eventually(lambda: answers(url), "the server answering", 30)
        code = Gatekeeper(SECRET).join_code(SESSION)
        join = Join(session=SESSION, name="Ghost", code=code)
        refused: Counter[str] = Counter()
        before = rss_bytes(process.pid)
        started = time.perf_counter()
        for start in range(0, cycles, parallel):
            count = min(parallel, cycles - start)
            await asyncio.gather(
                *(cycle(url, join, Encoding.MSGPACK, refused) for _ in range(count))
            )
        seconds = time.perf_counter() - started
        last = join.model_copy(update={"name": "Lyra"})
        as_json = await cycle(url, last, Encoding.JSON, refused)
        as_msgpack = await cycle(url, last, Encoding.MSGPACK, refused)
        welcome = decode_server(as_msgpack, Encoding.MSGPACK)
        assert isinstance(welcome, Welcome), welcome
        return {
            "cycles": cycles,
            "seconds": round(seconds, 2),
            "refused": dict(refused),
            "welcome_json_bytes": len(as_json),
            "welcome_msgpack_bytes": len(as_msgpack),
            "listed": len(welcome.state.participants) if welcome.state else 0,
            "rss_mb_before": round(before / 2**20, 1),
            "rss_mb_after": round(rss_bytes(process.pid) / 2**20, 1),
        }
    finally:
        await end(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--parallel", type=int, default=16, help="cycles at once")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.cycles, args.parallel))))


if __name__ == "__main__":
    main()
