"""The bridge's defaults that its command line shows: kept apart from ``readings``, whose
numpy and scipy would otherwise be imported by every ``dreamcommons`` command at start."""

from __future__ import annotations

from typing import Final

# A stream that sent nothing for this long (seconds) makes its readings stale.
DEFAULT_STALE_AFTER_S: Final = 2.0
