"""The client library's errors, one tree.

DreamClientError
├── JoinRefused        the server refused the join (its error code says why)
├── Refused            the server refused a contribution or a request
├── ConnectionLost     the connection ended while the client waited for an answer
└── UnexpectedReply    the server answered with a message the protocol does not allow there
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
