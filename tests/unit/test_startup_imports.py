"""Every ``dreamcommons`` command builds the whole command line at start: nothing it imports
for that may pull in scipy or liblsl (scipy alone is a second of CPU for each process)."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_command_line_imports_neither_scipy_nor_pylsl() -> None:
    probe = (
        "import sys\n"
        "from dreamcommons.cli import main\n"
        "main._parser()\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'pylsl'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
