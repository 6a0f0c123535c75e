"""``dreamcommons demo``: a whole session in one process, with bot dreamers on real sockets and
a simulated pod or fabric for each, on a real MQTT broker.

The broker is the one listening at ``--broker``, else a Mosquitto child process. The bodies
breathe ``speed`` times faster than the wall clock, and the sleepers start out of step, so a
minute shows the story: the scene fractures, the host (or the venue itself) harmonizes, the
sleepers entrain, coherence rises and the scene heals. Prints progress once a second and a
summary at the end, which says how the coherence stood against chance; with ``--json`` the
last line of output is one JSON object. With ``journal``, the night is kept in that journal, to
replay or export (``dreamcommons export PATH --format edf``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from dreamcommons.client.bots import BOT_NAMES, BotDreamer, BotHost
from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.plain_view import mood_words
from dreamcommons.contracts.broker_access import parse_broker_url
from dreamcommons.contracts.motion import motifs_at
from dreamcommons.contracts.protocol import DreamscapeState
from dreamcommons.contracts.venues import VenuePreset
from dreamcommons.firmware_sim.cli import stop_signals
from dreamcommons.firmware_sim.fleet import Fleet
from dreamcommons.server.broker import BrokerUnavailable, reachable_broker
from dreamcommons.server.devices.body_clock import on_body_clock
from dreamcommons.server.gateway import DreamServer
from dreamcommons.server.settings import ServerSettings

SESSION = "demo"
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
NIGHT_ACCELERATION = 120.0  # a night of sleep stages in four minutes
_READY_WITHIN_S = 15.0


async def run_demo(
    venue: VenuePreset,
    *,
    seconds: float | None,
    bots: int,
    host: str,
    port: int,
    json_summary: bool,
    broker: str = DEFAULT_BROKER,
    speed: float = 3.0,
    seed: int | None = None,
    journal: Path | None = None,
) -> dict[str, Any]:
    if bots < 1:
        give_up("a demo needs at least one bot (--bots 1 or more)")
    if not speed > 0.0:
        give_up(f"--speed must be positive, got {speed}")
    try:
        parse_broker_url(broker)
    except ValueError as error:
        give_up(str(error))
    with stop_signals() as stop:
        try:
            async with reachable_broker(broker) as (broker_url, child):
                where = "a Mosquitto child process" if child else "the broker already there"
                print(f"dreamcommons demo: devices on {broker_url} ({where})", flush=True)
                summary = await _session(
                    on_body_clock(venue, speed),
                    stop,
                    seconds=seconds,
                    bots=bots,
                    settings=ServerSettings(
                        host=host,
                        port=port,
                        venue=venue.name,
                        broker=broker_url,
                        open_sessions=(SESSION,),
                        journal=journal,
                    ),
                    broker_url=broker_url,
                    speed=speed,
                    seed=random.randrange(2**32) if seed is None else seed,
                )
        except BrokerUnavailable as error:
            give_up(str(error))
    print("summary:", flush=True)
    for key, value in summary.items():
        print(f"  {key:<24} {value}", flush=True)
    print(_against_chance(summary), flush=True)
    if journal is not None:
        print(f"the night is kept in {journal}: export it with", flush=True)
        print(f"  dreamcommons export {journal} --format edf --out night/", flush=True)
    if json_summary:
        print(json.dumps(summary), flush=True)
    return summary


async def _session(
    venue: VenuePreset,
    stop: asyncio.Event,
    *,
    seconds: float | None,
    bots: int,
    settings: ServerSettings,
    broker_url: str,
    speed: float,
    seed: int,
) -> dict[str, Any]:
    async with (
        DreamServer(settings, venue) as server,
        Fleet.generate(
            broker_url,
            bots,
            seed=seed,
            acceleration=NIGHT_ACCELERATION,
            time_scale=speed,
            desynchronized=True,
            ephemeral=True,  # the demo's devices never come back: clear them from the broker
            session=SESSION,  # set up for the demo's session: only it may pair them
        ) as fleet,
    ):
        _print_addresses(server, venue, bots, speed)
        await _devices_announced(server, fleet)
        url = f"ws://{settings.host}:{server.port}/{SESSION}"
        dreamers = [
            BotDreamer(
                url,
                BOT_NAMES[i % len(BOT_NAMES)] + ("" if i < len(BOT_NAMES) else f"-{i}"),
                venue,
                seed=i,
                role="waker" if i % 5 == 4 else "dreamer",
                pairing_code=device.config.pairing_code,
            )
            for i, device in enumerate(fleet.devices)
        ]
        host_bot = None if venue.harmonize.auto else BotHost(url, settings.host_key)
        started = time.monotonic()
        async with DreamClient(url, "Archivist", role="watcher") as watcher:
            tasks = [asyncio.create_task(bot.run(stop), name=f"bot-{bot.name}") for bot in dreamers]
            if host_bot is not None:
                tasks.append(asyncio.create_task(host_bot.run(stop), name="bot-host"))
            await report_until(stop, watcher, seconds, started)
            state = watcher.state  # the scene as the bots leave it, before they go
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        session = server.sessions[SESSION]
        accepted = session.stats.contributions_accepted + session.stats.whispers_accepted
        bots_accepted = sum(b.stats.accepted for b in dreamers)
        counters = session.engine.counters
        devices = server.devices.summary()
        return {
            "venue": venue.name,
            "seconds": round(time.monotonic() - started, 1),
            "participants": sum(1 for m in session.members if m.role not in ("watcher", "host")),
            "bots": len(dreamers),
            "bots_failed": sum(1 for r in results if isinstance(r, BaseException)),
            # the bots' own: sent = accepted + refused (+ any still unanswered at the end)
            "contributions_sent": sum(b.stats.sent for b in dreamers),
            "contributions_accepted": bots_accepted,
            "contributions_refused": sum(b.stats.refused for b in dreamers),
            # everyone else's: a browser's or a terminal's, joined while the demo ran
            "contributions_by_others": accepted - bots_accepted,
            "ticks": session.stats.ticks,
            "motifs": len(state.motifs),
            "whispers": len(state.whispers),
            "mood": state.mood.model_dump(),
            "top_motifs": _heaviest(state, 5),
            "tick_ms_max": round(session.stats.tick_seconds_max * 1000, 2),
            "devices_online": devices["devices_online"],
            "devices_paired": devices["devices_paired"],
            "bio_messages": devices["bio_messages"],
            "bio_samples": devices["bio_samples"],
            "samples_lost": devices["samples_lost"],
            "coherence_min": _rounded(counters.coherence_min),
            "coherence_final": _rounded(state.scene.coherence),
            "sleepers_final": state.scene.sleepers,
            "chance_final": _rounded(state.scene.chance),
            "above_chance_final": _rounded(state.scene.above_chance),
            "fractures": counters.fractures,
            "harmonizations": counters.harmonizations,
        }


def _print_addresses(server: DreamServer, venue: VenuePreset, bots: int, speed: float) -> None:
    host, port = server.settings.host, server.port
    web = f"http://{host}:{port}"
    url = f"ws://{host}:{port}/{SESSION}"
    lines = (
        f"dreamcommons demo: {venue.title} with {bots} bot dreamers, each with a pod or fabric",
        f"  bodies breathe {speed:g}x faster than the clock; the sleepers start out of step",
        f"  dreamscape: {web}/s/{SESSION}",
        f"  watch:      {web}/watch/{SESSION}",
        f"  host:       {web}/host/{SESSION}#key={server.settings.host_key}",
        f"  session:    {url}   (join it: dreamcommons join {url} --name You)",
        f"  health:     {web}/healthz",
    )
    for line in lines:
        print(line, flush=True)


async def _devices_announced(server: DreamServer, fleet: Fleet) -> None:
    """Wait until the server counts every device online, so that the bots can pair."""
    gateway = server.devices.gateway
    assert gateway is not None
    wanted = {device.device_id for device in fleet.devices}
    devices = server.devices.registry.devices
    async with asyncio.timeout(_READY_WITHIN_S):
        await gateway.connected.wait()
        while not all(d in devices and devices[d].online for d in wanted):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def report_until(
    stop: asyncio.Event, watcher: DreamClient, seconds: float | None, started: float
) -> None:
    deadline = None if seconds is None else started + seconds
    while not stop.is_set():
        wait = 1.0 if deadline is None else min(1.0, deadline - time.monotonic())
        if wait <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
        print(f"  {time.monotonic() - started:5.1f}s  {_progress(watcher.state)}", flush=True)


def _heaviest(state: DreamscapeState, count: int) -> list[str]:
    """The names of the ``count`` heaviest motifs at the state's tick."""
    now = sorted(motifs_at(state, state.t), key=lambda m: -m.weight)
    return [m.name for m in now[:count]]


def _progress(state: DreamscapeState) -> str:
    top = " ".join(_heaviest(state, 3))
    present = state.people.roles.get("dreamer", 0) + state.people.roles.get("waker", 0)
    asleep = sum(1 for p in state.participants if p.stage not in (None, "awake"))
    mood = mood_words(state.mood.valence, state.mood.arousal)
    scene = state.scene
    coherence = "  -  " if scene.coherence is None else f"{scene.coherence:.2f}"
    if scene.chance is not None:
        coherence += f" (chance {scene.chance:.2f})"
    story = ("FRACTURED " if scene.fractured else "") + ("harmonizing" if scene.harmonizing else "")
    return (
        f"tick {state.seq:5d}  dreamers {present:2d} ({asleep} asleep)  {scene.phase:<9}"
        f"  coherence {coherence}  motifs {len(state.motifs):2d}  mood {mood:<16}"
        f"  {top:<20} {story}"
    )


def _against_chance(summary: dict[str, Any]) -> str:
    """The summary's coherence in words: against what chance would give the same sleepers."""
    coherence, chance = summary["coherence_final"], summary["chance_final"]
    sleepers, above = summary["sleepers_final"], summary["above_chance_final"]
    if coherence is None or chance is None or above is None:
        return "coherence at the end: not measured (too few sleepers with a breathing rhythm)"
    return (
        f"coherence at the end {coherence:.2f}, against {chance:.2f} by chance for {sleepers}"
        f" sleepers (1/sqrt({sleepers}) = {1 / math.sqrt(sleepers):.2f}):"
        f" {above:.2f} of the way from chance to full step"
    )


def give_up(reason: str) -> NoReturn:
    print(f"dreamcommons demo: {reason}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
