"""Who may join which session, and as what: host secrets, join codes, signed invitations.

Everything is derived from one server secret with HMAC-SHA256, so nothing needs storing and
every process that shares the secret agrees:

- a session's **host secret** lets its holder join that session as host;
- a session's **join code** (8 characters, easy to read aloud) lets anyone who has it join as
  dreamer, waker or watcher;
- an **invitation** is a token the host issues for one session and one role, valid until it
  expires: ``dc1.<payload>.<signature>``, the payload a compact JSON map in base64url.

A session the host marked open needs neither. Resume tokens are the session's business.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Collection
from dataclasses import dataclass

from dreamcommons.contracts.errors import ErrorCode, NotAllowed
from dreamcommons.contracts.protocol import Invitation, Invite, Join, Role
from dreamcommons.contracts.tokens import (
    INVITABLE_ROLES,
    TOKEN_PREFIX,
    b64decode,
    b64encode,
    normalise_code,
)

_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud safely
CODE_LENGTH = 8
ALL_SESSIONS = "*"


@dataclass(frozen=True, slots=True)
class InvitationClaims:
    session: str
    role: Role
    expires: int  # Unix seconds
    nonce: str


class Gatekeeper:
    """Admits joins by host secret, join code, invitation or an open session; issues
    invitations. ``operator_key`` (the server's host key) is the host secret of every session."""

    def __init__(
        self,
        secret: str,
        *,
        operator_key: str | None = None,
        open_sessions: Collection[str] = (),
    ) -> None:
        root = secret.encode()
        self._host_key = hmac.new(root, b"dreamcommons host secret", hashlib.sha256).digest()
        self._code_key = hmac.new(root, b"dreamcommons join code", hashlib.sha256).digest()
        self._sign_key = hmac.new(root, b"dreamcommons invitation", hashlib.sha256).digest()
        self._operator_key = operator_key
        self.open_sessions = set(open_sessions)

    # --- what the host hands out ---------------------------------------------------------

    def host_secret(self, session: str) -> str:
        """144 bits in lower-case base32: no dash that a command line could take for a flag."""
        digest = hmac.new(self._host_key, session.encode(), hashlib.sha256).digest()[:20]
        return base64.b32encode(digest).decode().lower()[:29]

    def join_code(self, session: str) -> str:
        digest = hmac.new(self._code_key, session.encode(), hashlib.sha256).digest()
        number = int.from_bytes(digest[:8], "big")
        chars = []
        for _ in range(CODE_LENGTH):
            number, index = divmod(number, len(_CODE_ALPHABET))
            chars.append(_CODE_ALPHABET[index])
        return "".join(chars)

    def invite(self, session: str, role: Role, expires: int) -> str:
        """A signed invitation to ``session`` as ``role``, valid until ``expires`` (Unix s)."""
        if role not in INVITABLE_ROLES:
            raise ValueError(f"invitations are for {', '.join(INVITABLE_ROLES)}, not {role}")
        payload = {"s": session, "r": role, "e": int(expires), "n": secrets.token_urlsafe(6)}
        body = b64encode(json.dumps(payload, separators=(",", ":")).encode())
        return f"{TOKEN_PREFIX}.{body}.{self._sign(body)}"

    def invitation(self, session: str, role: str, request: Invite, now: float) -> Invitation:
        """Answer a member's ``Invite``: only the host of ``session`` may issue one."""
        if role != "host":
            raise NotAllowed(ErrorCode.FORBIDDEN, "only the host may invite", ref=request.cid)
        expires = int(now + request.ttl_s)
        return Invitation(
            cid=request.cid,
            token=self.invite(session, request.role, expires),
            role=request.role,
            expires=expires,
        )

    def is_open(self, session: str) -> bool:
        return ALL_SESSIONS in self.open_sessions or session in self.open_sessions

    # --- checking ------------------------------------------------------------------------

    def is_host_secret(self, session: str, key: str | None) -> bool:
        if not key:
            return False
        if self._operator_key and secrets.compare_digest(key, self._operator_key):
            return True
        return secrets.compare_digest(key, self.host_secret(session))

    def verify(self, token: str, session: str, role: Role, now: float) -> InvitationClaims:
        """The invitation ``token`` carries, if it was signed here, is for ``session`` and
        ``role``, and has not expired; else ``NotAllowed`` saying which."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise _bad("that is not an invitation of this server")
        body, signature = parts[1], parts[2]
        if not secrets.compare_digest(signature, self._sign(body)):
            raise _bad("the invitation's signature does not match")
        try:
            payload = json.loads(b64decode(body))
            invitation = InvitationClaims(
                session=str(payload["s"]),
                role=payload["r"],
                expires=int(payload["e"]),
                nonce=str(payload["n"]),
            )
        except (ValueError, KeyError, TypeError, OverflowError, binascii.Error):
            raise _bad("the invitation cannot be read") from None
        if invitation.session != session:
            raise _bad("the invitation is for another session")
        if invitation.role != role:
            raise _bad(f"the invitation is for a {invitation.role}, not a {role}")
        if now >= invitation.expires:
            raise NotAllowed(ErrorCode.INVITATION_EXPIRED, "the invitation has expired")
        return invitation

    def admit(self, request: Join, now: float) -> None:
        """Let ``request`` in, or raise ``NotAllowed`` with the reason's code. A resume is
        left to the session, which knows its tokens; a host needs the host secret."""
        if request.role == "host":
            if not self.is_host_secret(request.session, request.key):
                raise NotAllowed(
                    ErrorCode.FORBIDDEN, "joining as host needs the session's host key"
                )
            return
        if request.resume is not None:
            return
        if request.token is not None:
            self.verify(request.token, request.session, request.role, now)
            return
        if request.code is not None:
            expected = self.join_code(request.session)
            if not secrets.compare_digest(normalise_code(request.code), expected):
                raise _bad("wrong join code for this session")
            return
        if not self.is_open(request.session):
            raise NotAllowed(
                ErrorCode.INVITATION_REQUIRED,
                "this session is private: join with its code or an invitation from its host",
            )

    def _sign(self, body: str) -> str:
        return b64encode(hmac.new(self._sign_key, body.encode(), hashlib.sha256).digest())


def _bad(message: str) -> NotAllowed:
    return NotAllowed(ErrorCode.BAD_INVITATION, message)
