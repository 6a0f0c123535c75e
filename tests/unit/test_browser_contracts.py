"""The browser's copy of the contracts is generated from the Python ones and kept in step."""

from __future__ import annotations

import re
from pathlib import Path

from dreamcommons.contracts.browser import browser_contracts
from dreamcommons.contracts.errors import CloseCode, ErrorCode

WEBCLIENT = Path(__file__).resolve().parents[2] / "server" / "webclient"
# A close code, a field's pattern or the whisper limit written into a script by hand.
_OWN_COPY = r"CLOSE_\w+ = \d|[=!]== 40\d\d|= /\^|WHISPER_MAX = \d"


def test_contracts_js_is_what_the_python_contracts_generate() -> None:
    committed = (WEBCLIENT / "contracts.js").read_text()
    assert committed == browser_contracts(), (
        "server/webclient/contracts.js is stale: "
        "python -m dreamcommons.contracts.browser > server/webclient/contracts.js"
    )


def test_every_close_and_error_code_reaches_the_page() -> None:
    text = browser_contracts()
    assert all(f"  {code.name}: {code.value}," in text for code in CloseCode)
    assert all(f'"{code.value}"' in text for code in ErrorCode)


def test_no_other_script_keeps_its_own_close_codes_or_patterns() -> None:
    copies = {
        path.name: found
        for path in WEBCLIENT.glob("*.js")
        if path.name != "contracts.js" and (found := re.findall(_OWN_COPY, path.read_text()))
    }
    assert copies == {}
