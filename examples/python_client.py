"""A dreamcommons client written from docs/protocol.md alone: websockets and msgpack, and
nothing of dreamcommons itself.

    python examples/python_client.py ws://127.0.0.1:8765/commons --name Ada [--code CODE]

It joins as a dreamer, contributes a motif, and follows the deltas until the server says the
motif was merged. Then it checks the dreamscape it built from the deltas: a second
connection, a watcher, asks for a snapshot, and the state held at the snapshot's seq must be
the snapshot's, field by field. It prints one JSON line of what it saw, and exits 1 if the
two differ.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import msgpack
import websockets

SUBPROTOCOL = "dreamcommons.v2.msgpack"
# a msgpack delta's motif update is an array of these values (nil: not carried)
MOTIF_FIELDS = ("name", "weight", "intensity", "valence", "arousal", "x", "y", "phase", "colour")
State = dict[str, Any]


def apply_delta(state: State, delta: State) -> State:
    """The state after ``delta``, as docs/protocol.md says a delta is applied."""
    motifs = {m["name"]: m for m in state["motifs"]}
    for name in delta.get("removed", []):
        motifs.pop(name, None)
    for row in delta.get("motifs", []):
        update = {
            key: value for key, value in zip(MOTIF_FIELDS, row, strict=False) if value is not None
        }
        motifs[update["name"]] = {**motifs.get(update["name"], {}), **update, "t": delta["t"]}
    people = {p["id"]: p for p in state["participants"]}
    for pid in delta.get("left", []):
        people.pop(pid, None)
    people.update((p["id"], p) for p in delta.get("participants", []))
    limit = state["whisper_limit"]
    whispers = (state["whispers"] + delta.get("whispers", []))[-limit:] if limit else []
    changed = {k: delta[k] for k in ("mood", "scene", "people") if delta.get(k) is not None}
    return {
        **state,
        **changed,
        "seq": delta["seq"],
        "t": delta["t"],
        "motifs": [motifs[name] for name in sorted(motifs)],
        "whispers": whispers,
        "participants": [people[pid] for pid in sorted(people)],
    }


def applied(delta: State) -> dict[str, int]:
    """A delta's ``applied`` pairs as participant id -> cid: an integer key is the step from
    the last numbered id (``p`` and the number in hex), a string key the id itself."""
    pairs, merged, number = delta.get("applied", []), {}, 0
    for key, cid in zip(pairs[::2], pairs[1::2], strict=True):
        if isinstance(key, int):
            number += key
            key = f"p{number:x}"
        merged[key] = cid
    return merged


async def join(url: str, name: str, role: str, code: str | None) -> tuple[Any, State]:
    """A connection that has joined, and its welcome."""
    ws = await websockets.connect(url, subprotocols=[SUBPROTOCOL])  # type: ignore[list-item]
    session = url.rstrip("/").rsplit("/", 1)[-1]
    join_frame = {"type": "join", "v": 2, "session": session, "name": name, "role": role}
    await ws.send(msgpack.packb({**join_frame, **({"code": code} if code else {})}))
    welcome = msgpack.unpackb(await ws.recv())
    if welcome["type"] != "welcome":
        raise SystemExit(f"refused: {welcome.get('code')}: {welcome.get('message')}")
    return ws, welcome


async def follow(
    ws: Any, me: str, history: dict[int, State], merged: asyncio.Event, news: asyncio.Condition
) -> None:
    """Apply every delta; heal a gap with a snapshot; note when our contribution is merged."""
    state = history[max(history)]
    async for frame in ws:
        message = msgpack.unpackb(frame)
        if message["type"] == "delta":
            if message["seq"] != state["seq"] + 1:
                await ws.send(msgpack.packb({"type": "resync"}))
                continue
            state = apply_delta(state, message)
            if applied(message).get(me, -1) >= 1:
                merged.set()
        elif message["type"] == "snapshot":
            state = message["state"]
        elif message["type"] == "error":
            print(f"error {message['code']}: {message['message']}")
        async with news:
            history[state["seq"]] = state
            news.notify_all()


async def snapshot(url: str, code: str | None) -> State:
    """A snapshot of the session, asked for by a watcher of its own."""
    ws, _ = await join(url, "Checker", "watcher", code)
    async with ws:
        await ws.send(msgpack.packb({"type": "resync"}))
        async for frame in ws:
            message = msgpack.unpackb(frame)
            if message["type"] == "snapshot":
                return message["state"]  # type: ignore[no-any-return]
    raise SystemExit("the server closed before sending a snapshot")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="ws://HOST:PORT/SESSION")
    parser.add_argument("--name", default="Ada")
    parser.add_argument("--code", help="the session's join code, if it is private")
    parser.add_argument("--motif", default="lantern")
    args = parser.parse_args()
    ws, welcome = await join(args.url, args.name, "dreamer", args.code)
    history = {welcome["state"]["seq"]: welcome["state"]}
    merged, news = asyncio.Event(), asyncio.Condition()
    async with ws:
        me = welcome["participant"]
        reader = asyncio.create_task(follow(ws, me, history, merged, news))
        contribution = {"type": "contribute", "cid": 1, "motif": args.motif, "intensity": 0.9}
        await ws.send(msgpack.packb(contribution))
        await asyncio.wait_for(merged.wait(), 10)
        expected = await snapshot(args.url, args.code)
        async with asyncio.timeout(10), news:
            await news.wait_for(lambda: expected["seq"] in history)
        held = history[expected["seq"]]
        reader.cancel()
    same = held == expected
    names = [m["name"] for m in held["motifs"]]
    print(json.dumps({"seq": expected["seq"], "motifs": names, "matches_snapshot": same}))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
