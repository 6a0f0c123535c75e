"""The demo's bots have names of their own: unique, and none the README's examples use."""

from __future__ import annotations

import re
from pathlib import Path

from dreamcommons.client.bots import BOT_NAMES

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_bot_names_are_unique_and_not_the_readmes() -> None:
    assert len(set(BOT_NAMES)) == len(BOT_NAMES)
    used = {name for name in BOT_NAMES if re.search(rf"\b{name}\b", README)}
    assert used == set()
