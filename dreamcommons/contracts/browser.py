"""The contracts as the browser client reads them: ``server/webclient/contracts.js``.

The page has no build step, so the JavaScript module is committed; it is generated from the
Python contracts by this module, and a test fails when the two differ. To remake it::

    python -m dreamcommons.contracts.browser > server/webclient/contracts.js
"""

from __future__ import annotations

import json
from typing import Any, get_args

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from dreamcommons.contracts.device_protocol import DeviceId, PairingCode
from dreamcommons.contracts.errors import CloseCode, ErrorCode
from dreamcommons.contracts.motion import ORBIT_PERIOD_S, ORBIT_RADIUS
from dreamcommons.contracts.protocol import (
    MAX_PEOPLE_PAGE,
    MAX_WHISPER_CHARS,
    PROTOCOL_VERSION,
    AnyClientMessage,
    AnyServerMessage,
    Command,
    DisplayName,
    Encoding,
    HostActionName,
    MotifName,
    NoticeCode,
    SessionId,
)
from dreamcommons.contracts.tokens import INVITABLE_ROLES


def _constraint(annotated: Any, name: str) -> Any:
    for meta in get_args(annotated)[1:]:
        value = getattr(meta, name, None)
        if value is not None:
            return value
    raise ValueError(f"{annotated} has no {name}")


def _message_types(union: Any) -> list[str]:
    types: list[str] = []
    for model in get_args(union):
        assert issubclass(model, BaseModel)
        field: FieldInfo = model.model_fields["type"]
        types.append(str(field.default))
    return types


def _regex(annotated: Any) -> str:
    return "/" + str(_constraint(annotated, "pattern")).replace("/", r"\/") + "/"


def browser_contracts() -> str:
    """The text of ``contracts.js``."""
    constants: list[tuple[str, str, str]] = [
        ("SUBPROTOCOL", json.dumps(Encoding.JSON.value), "the JSON encoding's subprotocol"),
        ("PROTOCOL_VERSION", str(PROTOCOL_VERSION), "the join frame's v"),
        ("SESSION_ID", _regex(SessionId), "a session's name"),
        ("MOTIF_NAME", _regex(MotifName), "a motif's name"),
        ("PAIR_CODE", _regex(PairingCode), "the code a device shows while it waits"),
        ("DEVICE_ID", _regex(DeviceId), "a device's id"),
        ("NAME_MAX", str(_constraint(DisplayName, "max_length")), "a display name's length"),
        (
            "WHISPER_MAX",
            str(MAX_WHISPER_CHARS),
            "the protocol's bound; the welcome's whisper_max is the server's own",
        ),
        ("PEOPLE_PAGE", str(MAX_PEOPLE_PAGE), "the most participants one people page holds"),
        ("ORBIT_PERIOD_S", repr(ORBIT_PERIOD_S), "seconds a motif takes to circle its centre"),
        ("ORBIT_RADIUS", repr(ORBIT_RADIUS), "the radius of that circle, in the unit square"),
        ("ROLES", json.dumps(list(INVITABLE_ROLES)), "roles a join page offers"),
        ("ACTIONS", json.dumps(list(get_args(Command.model_fields["action"].annotation))), ""),
        ("HOST_ACTIONS", json.dumps(list(get_args(HostActionName))), ""),
        ("CLIENT_MESSAGES", json.dumps(_message_types(AnyClientMessage)), "types a client sends"),
        ("SERVER_MESSAGES", json.dumps(_message_types(AnyServerMessage)), "types it receives"),
        ("ERROR_CODES", json.dumps([code.value for code in ErrorCode]), "an error frame's code"),
        ("NOTICE_CODES", json.dumps([code.value for code in NoticeCode]), "a notice's code"),
    ]
    lines = [
        "// Generated from dreamcommons/contracts by dreamcommons.contracts.browser: do not edit.",
        "// Remake: python -m dreamcommons.contracts.browser > server/webclient/contracts.js",
        "",
    ]
    for name, value, comment in constants:
        lines.append(f"export const {name} = {value};" + (f" // {comment}" if comment else ""))
    lines.append("")
    lines.append(
        "/** The application close codes (4000-4999) the server ends a connection with. */"
    )
    lines.append("export const CLOSE = Object.freeze({")
    lines.extend(f"  {code.name}: {code.value}," for code in CloseCode)
    lines.append("});")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(browser_contracts(), end="")
