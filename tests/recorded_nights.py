"""Journals of a recorded night written straight through ``Journal`` and the engine, as a
session writes them: a few dreamers contributing every few seconds, ticks at the venue's rate."""

from __future__ import annotations

import random
from pathlib import Path

from dreamcommons.contracts.venues import load_venue
from dreamcommons.server.engine import DreamEngine, MotifContributed, ParticipantJoined
from dreamcommons.server.journal import Journal, Tick, token_hash

SESSION = "commons"


async def write_night(path: Path, seconds: float, *, dreamers: int = 3, seed: int = 5) -> None:
    """``seconds`` of session time of ``SESSION`` in a new journal at ``path``."""
    venue = load_venue("sleep-commons")
    motifs = [m.name for m in venue.motifs]
    rng = random.Random(seed)
    engine = DreamEngine(venue, SESSION)
    period = 1.0 / venue.tick_hz
    async with Journal(path) as journal:
        journal.record_session(SESSION, venue)
        for n in range(1, dreamers + 1):
            joined = ParticipantJoined(participant=f"p{n}", name=f"Dreamer {n}", role="dreamer")
            engine.apply(joined)
            journal.record_member(
                SESSION, joined.participant, joined.name, "dreamer", token_hash(f"p{n}")
            )
            journal.append(SESSION, joined)
        cid = 0
        for tick in range(1, round(seconds * venue.tick_hz) + 1):
            if rng.random() < 0.05:  # one contribution every two seconds or so
                cid += 1
                who = f"p{rng.randint(1, dreamers)}"
                event = MotifContributed(who, cid, rng.choice(motifs), 0.8, rng.uniform(-1, 1), 0.5)
                engine.apply(event)
                journal.append(SESSION, event)
            engine.tick(tick * period)
            engine.drain_intents()
            journal.append(SESSION, Tick(tick * period))
            if tick % 100 == 0:
                await journal.commit()
        await journal.commit()
