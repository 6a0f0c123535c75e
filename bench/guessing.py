"""How many join-code guesses one address gets checked a second, however many connections.

    python -m bench.guessing                     # 16 connections for 20 s
    python -m bench.guessing --connections 32 --seconds 60

Starts ``dreamcommons host`` as a child process with its default settings. Each connection
sends wrong join codes, one after another, and reconnects when the server closes it for too
many mistakes. The last line is a JSON object: ``seconds``, ``attempts`` (answered),
``checked`` (answered ``bad_invitation``: the code was looked at), ``rate_limited``,
``checked_per_s`` and ``attempts_per_s``.
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
from websockets.exceptions import ConnectionClosed

from bench.ghosts import answers
from tests.processes import end, free_port, host_command
from tests.waiting import eventually

SESSION = "commons"


async def guesser(url: str, deadline: float, codes: Counter[str]) -> None:
    n = 0
    while time.monotonic() < deadline:
        try:
            async with connect(url, subprotocols=["dreamcommons.v2.json"]) as ws:  # type: ignore[list-item]
                while time.monotonic() < deadline:
                    n += 1
                    guess = {"type": "join", "session": SESSION, "name": "M", "code": f"G{n:07d}"}
                    await ws.send(json.dumps(guess))
                    while True:
                        answer = json.loads(await ws.recv(decode=True))
                        if answer["type"] != "delta":
                            codes[str(answer.get("code"))] += 1
                            break
        except ConnectionClosed:
            continue


async def run(connections: int, seconds: float) -> dict[str, Any]:
    port = free_port()
    url = f"ws://127.0.0.1:{port}/{SESSION}"
    process = await asyncio.create_subprocess_exec(
        *host_command(port, private=SESSION),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        await eventually(lambda: answers(url), "the server answering", 30)
        codes: Counter[str] = Counter()
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(guesser(url, deadline, codes) for _ in range(connections)))
        elapsed = time.monotonic() - started
        attempts = sum(codes.values())
        return {
            "connections": connections,
            "seconds": round(elapsed, 2),
            "attempts": attempts,
            "checked": codes["bad_invitation"],
            "rate_limited": codes["rate_limited"],
            "checked_per_s": round(codes["bad_invitation"] / elapsed, 3),
            "attempts_per_s": round(attempts / elapsed, 1),
        }
    finally:
        await end(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.connections, args.seconds))))


if __name__ == "__main__":
    main()
