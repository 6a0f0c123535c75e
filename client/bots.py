"""Scripted bots on real sockets: dreamers that contribute like people would (and pair their
pod or fabric first, when they have one), and a host who harmonizes a fractured scene."""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass

from dreamcommons.client.dream_client import DreamClient
from dreamcommons.client.errors import DreamClientError
from dreamcommons.contracts.protocol import Encoding, Role
from dreamcommons.contracts.venues import VenuePreset

# The demo's dreamers: none of them a name the README's examples use, so that one's own
# terminal or browser is never taken for a bot.
BOT_NAMES = (
    "Orin", "Sela", "Tamsin", "Bram", "Isolde", "Corin", "Wren", "Halden", "Maren", "Odile",
    "Quill", "Fenna", "Idris", "Juno", "Nell", "Pell", "Rook", "Ysolde",
)  # fmt: skip

WHISPERS = (
    "the dream is not a commodity",
    "I can hear the river from here",
    "who left the lanterns on?",
    "breathe with me",
    "the cocoons pulse in colour",
    "we are all awake somewhere",
    "let the quiet ones speak",
    "a garden where the clocks melt",
)


@dataclass(slots=True)
class BotStats:
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    paired: str | None = None  # the device id, once paired


class BotDreamer:
    """Contributes a motif of the venue every ``period`` seconds (jittered), whispers sometimes.

    Each bot favours a few motifs, as people do, so the merged scene has shape. A bot given a
    ``pairing_code`` first pairs the device showing it, as a person types the code in.
    """

    def __init__(
        self,
        url: str,
        name: str,
        venue: VenuePreset,
        *,
        seed: int,
        period: float = 1.5,
        role: Role = "dreamer",
        encoding: Encoding = Encoding.MSGPACK,
        pairing_code: str | None = None,
    ) -> None:
        self.url = url
        self.pairing_code = pairing_code
        self.name = name
        self.role: Role = role
        self.encoding = encoding
        self.period = period
        self.stats = BotStats()
        self._random = random.Random(seed)
        self._favourites = self._random.sample(venue.motifs, k=min(4, len(venue.motifs)))
        self._vocabulary = venue.motifs

    async def run(self, stop: asyncio.Event) -> None:
        async with DreamClient(self.url, self.name, role=self.role, encoding=self.encoding) as me:
            if self.pairing_code is not None:
                self.stats.paired = (await me.pair_device(self.pairing_code)).device
                await me.share(None, show_stage=True)  # a bot has no secrets: show its stage
            while not stop.is_set():
                await self._act(me)
                delay = self.period * self._random.uniform(0.5, 1.5)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    async def _act(self, me: DreamClient) -> None:
        self.stats.sent += 1
        try:
            if self._random.random() < 0.08:
                await me.whisper(self._random.choice(WHISPERS))
            else:
                pool = self._favourites if self._random.random() < 0.7 else self._vocabulary
                motif = self._random.choice(pool)
                await me.contribute(
                    motif.name,
                    intensity=round(self._random.uniform(0.3, 1.0), 2),
                    valence=_near(self._random, motif.valence, -1.0, 1.0),
                    arousal=_near(self._random, motif.arousal, 0.0, 1.0),
                )
            self.stats.accepted += 1
        except DreamClientError:
            self.stats.refused += 1


def _near(rng: random.Random, centre: float, low: float, high: float) -> float:
    return round(min(high, max(low, rng.gauss(centre, 0.15))), 2)


class BotHost:
    """The session's host as a bot: whenever the scene fractures and nobody is harmonizing
    yet, it asks the session to harmonize, as Vivienne gathers the sleepers for her ritual."""

    def __init__(self, url: str, key: str, *, name: str = "Vivienne") -> None:
        self.url = url
        self.key = key
        self.name = name
        self.harmonized = 0

    async def run(self, stop: asyncio.Event) -> None:
        async with DreamClient(self.url, self.name, role="host", key=self.key) as me:
            while not stop.is_set():
                try:
                    await me.wait_for(
                        lambda s: stop.is_set() or (s.scene.fractured and not s.scene.harmonizing),
                        within=0.5,
                    )
                except TimeoutError:
                    continue
                if stop.is_set():
                    return
                await me.host("harmonize")
                self.harmonized += 1
                await me.wait_for(lambda s: s.scene.harmonizing or not s.scene.fractured, 5.0)
