"""The shapes of the credentials a client carries: join codes and invitation tokens.

An invitation is ``dc1.<payload>.<signature>``, the payload a compact JSON map in base64url
(``s`` session, ``r`` role, ``e`` expiry in Unix seconds, ``n`` a nonce). Only the server can
check the signature; a client may read the role an invitation names to choose its own.
"""

from __future__ import annotations

import base64
import binascii
import json

from dreamcommons.contracts.protocol import Role

TOKEN_PREFIX = "dc1"
INVITABLE_ROLES: tuple[Role, ...] = ("dreamer", "waker", "watcher")


def b64encode(data: bytes) -> str:
    """base64url without padding, as in the token."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def normalise_code(code: str) -> str:
    """What a person typed as a join code, without case, spaces and dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def peek_role(token: str) -> Role | None:
    """The role an invitation names, read without checking it (for clients choosing a role)."""
    try:
        payload = json.loads(b64decode(token.split(".")[1]))
    except (IndexError, ValueError, binascii.Error):
        return None
    role = payload.get("r") if isinstance(payload, dict) else None
    return role if role in INVITABLE_ROLES else None
