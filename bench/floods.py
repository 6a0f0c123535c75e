"""What one connection's flood of cheap requests costs a host: resyncs, then share changes.

    .venv/bin/python -m bench.floods [--seconds 4] [--dreamers 20] [--max-errors N]

Starts ``dreamcommons host --journal`` as a child process, fills the session with
``dreamers`` who contribute and whisper (so that a snapshot weighs something), then for
``seconds`` each: one connection keeps eight ``resync`` requests in flight while a bystander
counts its deltas and times its pings; then one connection sends ``share`` frames, each
changing the level, as fast as it can. Prints the bytes each flood pulled or left in the
journal. With the default ``--max-errors`` the flooder is closed after a few refusals, as
in production; a large one keeps it connected, to measure a flood that goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import tempfile
import time
from collections import Counter
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.contracts.protocol import Encoding
from tests.processes import end, free_port, host_command

MOTIFS = ("moon", "river", "lantern", "owl", "tide", "cocoon")
MiB = 1024 * 1024


async def start_host(
    port: int, journal: Path, max_errors: int | None
) -> asyncio.subprocess.Process:
    env = dict(os.environ)
    if max_errors is not None:
        env["DREAMCOMMONS_MAX_ERRORS"] = str(max_errors)
    process = await asyncio.create_subprocess_exec(
        *host_command(port, journal),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    assert process.stdout is not None
    while b"hosting" not in await process.stdout.readline():
        if process.returncode is not None:
            raise SystemExit("the host did not start")
    asyncio.get_running_loop().create_task(_drain(process), name="host-output")
    return process


async def _drain(process: asyncio.subprocess.Process) -> None:
    assert process.stdout is not None
    while await process.stdout.readline():
        pass


async def joined(url: str, name: str) -> ClientConnection:
    ws = await connect(url, subprotocols=[Encoding.JSON.value], max_size=None)  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "join", "session": "commons", "name": name}))
    while json.loads(await ws.recv(decode=True))["type"] != "welcome":
        pass
    return ws


async def bystander(url: str, seconds: float) -> tuple[int, list[float]]:
    """Deltas seen and ping round trips (ms) over ``seconds``."""
    ws = await joined(url, "Bystander")
    deltas = 0
    trips: list[float] = []
    sent: dict[int, float] = {}

    async def pinger() -> None:
        for n in range(int(seconds * 4)):
            sent[n] = time.perf_counter()
            await ws.send(json.dumps({"type": "ping", "n": n}))
            await asyncio.sleep(0.25)

    task = asyncio.get_running_loop().create_task(pinger(), name="bystander-ping")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                frame = json.loads(await ws.recv(decode=True))
                if frame["type"] == "delta":
                    deltas += 1
                elif frame["type"] == "pong":
                    trips.append((time.perf_counter() - sent[frame["n"]]) * 1000)
    task.cancel()
    await ws.close()
    return deltas, trips


async def resync_flood(url: str, seconds: float) -> tuple[Counter[str], int, int, int | None]:
    """Answers by type or code, all bytes, snapshot bytes, and the close code if closed."""
    ws = await joined(url, "Mallory")
    seen: Counter[str] = Counter()
    received = snapshot_bytes = 0
    with contextlib.suppress(TimeoutError, ConnectionClosed):
        async with asyncio.timeout(seconds):
            for _ in range(8):
                await ws.send(json.dumps({"type": "resync"}))
            while True:
                raw = await ws.recv(decode=True)
                received += len(raw)
                frame = json.loads(raw)
                seen[str(frame.get("code", frame["type"]))] += 1
                if frame["type"] == "snapshot":
                    snapshot_bytes += len(raw)
                if frame["type"] in ("snapshot", "error"):
                    await ws.send(json.dumps({"type": "resync"}))
                elif frame["type"] == "delta":  # absorbed ones have no answer: keep eight going
                    for _ in range(8):
                        await ws.send(json.dumps({"type": "resync"}))
    closed = ws.close_code
    await ws.close()
    return seen, received, snapshot_bytes, closed


async def share_flood(url: str, seconds: float) -> tuple[int, Counter[str], int | None]:
    """Shares sent, answers by type or code, and the close code if closed."""
    ws = await joined(url, "Mallory-2")
    answers: Counter[str] = Counter()

    async def read() -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] != "delta":
                    answers[str(frame.get("code", frame["type"]))] += 1

    reader = asyncio.get_running_loop().create_task(read(), name="share-answers")
    sent = 0
    with contextlib.suppress(TimeoutError, ConnectionClosed):
        async with asyncio.timeout(seconds):
            while True:
                await ws.send(json.dumps({"type": "share", "cid": sent, "level": sent % 2 / 2}))
                sent += 1
                if sent % 64 == 0:
                    await asyncio.sleep(0)  # let the answers in
    closed = ws.close_code
    await ws.close()
    reader.cancel()
    return sent, answers, closed


def journaled(path: Path) -> tuple[int, int, int, int]:
    """The journal's last event, its share events, their payload bytes, all payload bytes."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        last, shares, share_bytes, all_bytes = db.execute(
            "SELECT max(seq), sum(kind = 'ShareChanged'),"
            " sum(CASE WHEN kind = 'ShareChanged' THEN length(payload) ELSE 0 END),"
            " sum(length(payload)) FROM events"
        ).fetchone()
    return int(last), int(shares), int(share_bytes), int(all_bytes)


async def main(seconds: float, dreamers: int, max_errors: int | None) -> None:
    port = free_port()
    url = f"ws://127.0.0.1:{port}/commons"
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "dreams.sqlite"
        host = await start_host(port, journal, max_errors)
        clients: list[DreamClient] = []
        try:
            for n in range(dreamers):
                client = DreamClient(url, f"dreamer-{n}")
                await client.__aenter__()
                clients.append(client)
                for motif in MOTIFS:
                    await client.contribute(motif)
                await client.whisper(f"a lantern on the river, says dreamer {n}")
            quiet, quiet_trips = await bystander(url, 1.0)
            snapshot = len(
                json.dumps({"type": "snapshot", "state": clients[0].state.model_dump(mode="json")})
            )
            print(f"room: {dreamers} dreamers, a snapshot of about {snapshot / 1024:.0f} KiB")
            print(f"bystander, quiet: {quiet} deltas in 1 s, ping {median(quiet_trips):.1f} ms")

            flood = asyncio.get_running_loop().create_task(resync_flood(url, seconds))
            deltas, trips = await bystander(url, seconds)
            seen, received, snapshot_bytes, closed = await flood
            print(
                f"resync flood, {seconds:g} s, 8 in flight: {seen['snapshot']} snapshots, "
                f"{snapshot_bytes / MiB:.2f} MiB of snapshots, {received / MiB:.2f} MiB in all; "
                f"{seen['rate_limited']} rate_limited; closed: {closed}"
            )
            print(
                f"bystander meanwhile: {deltas / seconds:.1f} deltas a second, "
                f"ping median {median(trips):.1f} ms, max {max(trips, default=0.0):.1f} ms"
            )

            _, shares_before, share_bytes_before, bytes_before = journaled(journal)
            sent, answers, closed = await share_flood(url, seconds)
            await asyncio.sleep(0.5)  # the last tick's commit
            _, shares, share_bytes, all_bytes = journaled(journal)
            print(
                f"share flood, {seconds:g} s: {sent} sent, {answers['ack']} acked, "
                f"{answers['rate_limited']} rate_limited, closed: {closed}; journaled: "
                f"{shares - shares_before} share events, {share_bytes - share_bytes_before} "
                f"bytes of them, {all_bytes - bytes_before} bytes of events in all (ticks too)"
            )
        finally:
            for client in clients:
                await client.close()
            await end(host)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2] if values else 0.0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--dreamers", type=int, default=20)
    parser.add_argument("--max-errors", type=int, default=None, help="the host's max_errors")
    options = parser.parse_args()
    asyncio.run(main(options.seconds, options.dreamers, options.max_errors))
