"""What goes wrong in the cluster's parts, under one root (``ClusterError``)."""

from __future__ import annotations

from dreamcommons.contracts.errors import DreamcommonsError, ErrorCode, ProtocolError


class ClusterError(DreamcommonsError):
    """Something of the cluster's NATS parts failed."""


class NatsUnavailable(ClusterError):
    """No ``nats-server`` binary, or it would not start."""


class LeaseLost(ClusterError):
    """This process no longer owns the session: its lease expired or another took it. The
    owner stops applying the session's events at once."""

    def __init__(self, session: str, reason: str) -> None:
        super().__init__(f"lease of session {session!r} lost: {reason}")
        self.session = session
        self.reason = reason


class LeaseHeld(ClusterError):
    """The session is owned by another process (``owner``): a claim failed."""

    def __init__(self, session: str, owner: str | None) -> None:
        super().__init__(f"session {session!r} is owned by {owner or 'another process'}")
        self.session = session
        self.owner = owner


class LogUnavailable(ClusterError):
    """The durable log could not take or give an event or snapshot (NATS down, no ack)."""


class SessionMoving(ProtocolError):
    """No process owns the session and none took it, or its owner did not answer in time:
    the client's request was neither applied nor acknowledged (``session_moving``)."""

    code = ErrorCode.SESSION_MOVING
