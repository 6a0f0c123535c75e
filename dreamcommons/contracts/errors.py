"""The server's errors: one tree, one stable code per protocol error, one table of close codes.

    DreamcommonsError
    ├── ProtocolError           a peer sent something the protocol does not allow
    │   ├── MalformedFrame      not decodable in the connection's encoding
    │   ├── UnknownMessageType  decodable, but no such message type
    │   ├── InvalidField        a known message with a missing, wrong or out-of-range field
    │   ├── FrameTooLarge       larger than the application's frame limit
    │   ├── UnsupportedVersion  a protocol version this server does not speak
    │   ├── NotAllowed          valid, but not allowed now or for this role
    │   └── LimitExceeded       valid, but over one of the server's limits
    ├── VenueError              a venue preset is missing or invalid
    ├── EngineError             (server.engine) an event the merge engine cannot apply
    │   └── ContributionRefused a dream rule refuses it: the role, or the session has ended
    └── CommandFailed           (server.devices) a device command not sent or not acknowledged

Every ProtocolError carries an ``ErrorCode`` that travels in the error frame, so that
clients can act on the code and show the message.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ErrorCode(StrEnum):
    """Stable codes carried by error frames. Never renamed once published."""

    MALFORMED_FRAME = "malformed_frame"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    FRAME_TOO_LARGE = "frame_too_large"
    UNSUPPORTED_VERSION = "unsupported_version"
    NOT_JOINED = "not_joined"
    ALREADY_JOINED = "already_joined"
    BAD_RESUME_TOKEN = "bad_resume_token"
    FORBIDDEN = "forbidden"
    PAIRING_REFUSED = "pairing_refused"
    NO_DEVICES = "no_devices"
    INVITATION_REQUIRED = "invitation_required"
    BAD_INVITATION = "bad_invitation"
    INVITATION_EXPIRED = "invitation_expired"
    RATE_LIMITED = "rate_limited"
    WHISPER_TOO_LONG = "whisper_too_long"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    BAD_ORIGIN = "bad_origin"
    INTERNAL = "internal"
    JOURNAL_UNAVAILABLE = "journal_unavailable"  # nothing can be made durable: not acknowledged
    SESSION_FULL = "session_full"  # as many members listed as the session takes, all present
    SESSION_MOVING = "session_moving"  # a cluster found no owner of the session, or none answered


# Refusals that are the server's own fault, not the client's: they never count against a
# connection's error budget (``max_errors``), so a server in trouble disconnects nobody.
SERVER_FAULTS = frozenset(
    {ErrorCode.INTERNAL, ErrorCode.JOURNAL_UNAVAILABLE, ErrorCode.SESSION_MOVING}
)


class CloseCode(IntEnum):
    """Application close codes (4000-4999) sent when the server ends a connection."""

    TOO_MANY_ERRORS = 4000
    SERVER_SHUTDOWN = 4001
    SESSION_CLOSED = 4002
    REPLACED = 4003
    REMOVED = 4004
    TOO_MANY_CONNECTIONS = 4005
    SLOW_CONSUMER = 4006  # it stopped reading: its queue hit the bound and stayed there


class DreamcommonsError(Exception):
    """Root of every error raised by dreamcommons."""


class ProtocolError(DreamcommonsError):
    """A peer sent something the protocol does not allow."""

    code: ErrorCode = ErrorCode.INVALID_FIELD

    def __init__(self, message: str, *, ref: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ref = ref


class MalformedFrame(ProtocolError):
    """The frame could not be decoded in the connection's encoding."""

    code = ErrorCode.MALFORMED_FRAME


class UnknownMessageType(ProtocolError):
    """The frame decoded, but its ``type`` names no message of the protocol."""

    code = ErrorCode.UNKNOWN_TYPE


class InvalidField(ProtocolError):
    """A known message with a missing, mistyped, unknown or out-of-range field."""

    code = ErrorCode.INVALID_FIELD


class FrameTooLarge(ProtocolError):
    """The frame is larger than the application's limit."""

    code = ErrorCode.FRAME_TOO_LARGE


class UnsupportedVersion(ProtocolError):
    """The peer speaks a protocol version this server does not."""

    code = ErrorCode.UNSUPPORTED_VERSION


class NotAllowed(ProtocolError):
    """A valid message that is not allowed now, or not for this participant."""

    def __init__(self, code: ErrorCode, message: str, *, ref: int | None = None) -> None:
        super().__init__(message, ref=ref)
        self.code = code


class LimitExceeded(ProtocolError):
    """A valid message or connection over one of the server's configured limits."""

    def __init__(self, code: ErrorCode, message: str, *, ref: int | None = None) -> None:
        super().__init__(message, ref=ref)
        self.code = code


class VenueError(DreamcommonsError):
    """A venue preset is missing or invalid; the message names the file and the field."""
