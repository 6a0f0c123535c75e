"""The browser client's pages and static files, served on the WebSocket port."""

from __future__ import annotations

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Response


def web_response(connection: ServerConnection, path: str) -> Response | None:
    """The response for a plain HTTP GET of ``path``, or None when it is not a web route."""
    return None
