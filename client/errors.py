"""The client library's errors, one tree.

DreamClientError
├── JoinRefused        the server refused the join (its error code says why)
├── Refused            the server refused a contribution or a request
├── ConnectionLost     the connection ended while the client waited for an answer
├── UnexpectedReply    the server answered with a message the protocol does not allow there
├── LinkFailed         a client that stays joined gave up: trying again cannot fix the reason
└── CommandError       a typed command line that means nothing, or something out of range
"""

from __future__ import annotations

from dreamcommons.contracts.errors import ErrorCode


class DreamClientError(Exception):
    """Root of every error the client library raises."""


class Refused(DreamClientError):
    """The server answered with an error frame."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class JoinRefused(Refused):
    """The server refused to let this client join."""


class ConnectionLost(DreamClientError):
    """The connection ended before the answer came."""


class UnexpectedReply(DreamClientError):
    """The server answered with a message the protocol does not allow at that point."""


class LinkFailed(DreamClientError):
    """A client that stays joined gave up: the reason cannot be fixed by trying again."""

    def __init__(self, reason: str, *, ever_joined: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.ever_joined = ever_joined


class CommandError(DreamClientError, ValueError):
    """A typed line that means nothing, or something out of range; the message says which."""
