"""``dreamcommons demo``: a whole session in one process, with bot dreamers on real sockets.

Prints progress once a second and a summary at the end; with ``--json`` the last line of
output is one JSON object for scripts and CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from typing import Any

from client.bots import BOT_NAMES, BotDreamer
from client.dream_client import DreamClient
from client.plain_view import mood_words
from server.gateway import DreamServer
from server.settings import ServerSettings
from server.venues import VenuePreset

SESSION = "demo"


async def run_demo(
    venue: VenuePreset,
    *,
    seconds: float | None,
    bots: int,
    host: str,
    port: int,
    json_summary: bool,
) -> dict[str, Any]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    settings = ServerSettings(host=host, port=port, venue=venue.name, open_sessions=(SESSION,))
    async with DreamServer(settings, venue) as server:
        url = f"ws://{host}:{server.port}/{SESSION}"
        print(f"dreamcommons demo: {venue.title} with {bots} bot dreamers", flush=True)
        print(f"  session:  {url}   (join it: dreamcommons join {url} --name You)", flush=True)
        print(f"  health:   http://{host}:{server.port}/healthz", flush=True)
        dreamers = [
            BotDreamer(
                url,
                BOT_NAMES[i % len(BOT_NAMES)] + ("" if i < len(BOT_NAMES) else f"-{i}"),
                venue,
                seed=i,
                role="waker" if i % 5 == 4 else "dreamer",
            )
            for i in range(bots)
        ]
        started = time.monotonic()
        async with DreamClient(url, "Archivist", role="watcher") as watcher:
            tasks = [asyncio.create_task(bot.run(stop), name=f"bot-{bot.name}") for bot in dreamers]
            await _report_until(stop, watcher, seconds, started)
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            state = watcher.state
        session = server.sessions[SESSION]
        summary = {
            "venue": venue.name,
            "seconds": round(time.monotonic() - started, 1),
            "participants": sum(1 for m in session.members if m.role != "watcher"),
            "bots_failed": sum(1 for r in results if isinstance(r, BaseException)),
            "contributions_sent": sum(b.stats.sent for b in dreamers),
            "contributions_accepted": session.stats.contributions_accepted
            + session.stats.whispers_accepted,
            "contributions_refused": sum(b.stats.refused for b in dreamers),
            "ticks": session.stats.ticks,
            "motifs": len(state.motifs),
            "whispers": len(state.whispers),
            "mood": state.mood.model_dump(),
            "top_motifs": [m.name for m in sorted(state.motifs, key=lambda m: -m.weight)[:5]],
            "tick_ms_max": round(session.stats.tick_seconds_max * 1000, 2),
        }
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    print("summary:", flush=True)
    for key, value in summary.items():
        print(f"  {key:<24} {value}", flush=True)
    if json_summary:
        print(json.dumps(summary), flush=True)
    return summary


async def _report_until(
    stop: asyncio.Event, watcher: DreamClient, seconds: float | None, started: float
) -> None:
    deadline = None if seconds is None else started + seconds
    while not stop.is_set():
        wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
        if wait <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        state = watcher.state
        top = " ".join(m.name for m in sorted(state.motifs, key=lambda m: -m.weight)[:4])
        present = sum(1 for p in state.participants if p.present and p.role != "watcher")
        mood = mood_words(state.mood.valence, state.mood.arousal)
        print(
            f"  {time.monotonic() - started:5.1f}s  tick {state.seq:5d}  dreamers {present:3d}"
            f"  motifs {len(state.motifs):3d}  mood {mood:<18}  top: {top}",
            flush=True,
        )
