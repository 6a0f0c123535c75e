"""Tests and bench/ share one polling helper (tests/waiting.py) and one process helper
(tests/processes.py): no folder grows a copy of its own."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOMES = {"eventually": "tests/waiting.py", "free_port": "tests/processes.py"}


def test_polling_and_free_ports_are_written_once() -> None:
    copies = [
        f"{path.relative_to(ROOT)} defines {name}"
        for folder in ("tests", "bench")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name, home in HOMES.items()
        if re.search(rf"^\s*(async )?def {name}\(", path.read_text(), re.MULTILINE)
        and str(path.relative_to(ROOT)) != home
    ]
    assert copies == []
