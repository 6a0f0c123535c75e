"""Which version of the wire a WebSocket handshake asks for, and a clear refusal of any other.

A client names its encoding, and so the protocol's version, by subprotocol. One that offers
none this server speaks (a v1 client offers only ``dreamcommons.v1.*``) is answered before the
upgrade with HTTP 400 and a line naming the subprotocols to use, instead of websockets'
generic negotiation failure.
"""

from __future__ import annotations

from http import HTTPStatus

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from dreamcommons.contracts.protocol import PROTOCOL_VERSION, Encoding

SPOKEN = tuple(encoding.value for encoding in Encoding)


def offered_subprotocols(request: Request) -> list[str]:
    """The subprotocols a handshake offers, in its order (the header may repeat)."""
    return [
        name.strip()
        for header in request.headers.get_all("Sec-WebSocket-Protocol")
        for name in header.split(",")
        if name.strip()
    ]


def refuse_other_versions(connection: ServerConnection, request: Request) -> Response | None:
    """HTTP 400 naming this version's subprotocols, unless the handshake offers one of them."""
    offered = offered_subprotocols(request)
    if any(name in SPOKEN for name in offered):
        return None
    what = ", ".join(offered) if offered else "no subprotocol"
    return connection.respond(
        HTTPStatus.BAD_REQUEST,
        f"unsupported_version: this server speaks dreamcommons v{PROTOCOL_VERSION}; offer the "
        f"subprotocol {' or '.join(SPOKEN)} (the handshake offered {what})\n",
    )
