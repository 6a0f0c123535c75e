"""The browser client's pages and static files, served on the WebSocket port.

Routes: ``/`` the join page; ``/s/SESSION``, ``/watch/SESSION`` and ``/host/SESSION`` one app
shell whose script reads the mode and the session from the path; ``/static/FILE`` the files of
``server/webclient/``. Only files found there when first asked are served (a fixed table, so
no request path ever reaches the file system), each with its content type and strict security
headers. Anything else is not a web route: the gateway answers 404 with a small page that
links to the join page (``not_found``). The table is read at the first request, so edits to
the web client show after a server restart.
"""

from __future__ import annotations

import functools
import json
import re
from http import HTTPStatus
from pathlib import Path
from typing import NamedTuple

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Response

WEBCLIENT = Path(__file__).with_name("webclient")

_APP_ROUTE = re.compile(r"^/(?:s|watch|host)/[a-z0-9][a-z0-9-]{0,63}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9]+)+$")
_FOLDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self' ws: wss:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

_SECURITY_HEADERS = (
    ("Cache-Control", "no-cache"),
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)


class StaticFile(NamedTuple):
    content_type: str
    body: bytes


def web_response(connection: ServerConnection, path: str) -> Response | None:
    """The response for a plain HTTP GET of ``path``, or None when it is not a web route."""
    files = static_files()
    if path == "/":
        name = "index.html"
    elif _APP_ROUTE.match(path):
        name = "app.html"
    elif path.startswith("/static/"):
        name = path.removeprefix("/static/")
    else:
        return None
    found = files.get(name)
    if found is None:
        return None
    return _response(connection, found)


@functools.cache
def static_files() -> dict[str, StaticFile]:
    """Every servable file of the web client by its path under ``/static/``, read once.

    Only plain names (``app.js``, ``vendor/lib.min.js``) of files with a known content type
    are listed; a request names one of them exactly or gets nothing, whatever its dots,
    slashes or percent signs.
    """
    files: dict[str, StaticFile] = {}
    if not WEBCLIENT.is_dir():
        return files
    root = WEBCLIENT.resolve()
    for file in sorted(root.rglob("*")):
        relative = file.relative_to(root)
        content_type = CONTENT_TYPES.get(file.suffix.lower())
        if (
            content_type is None
            or not file.is_file()
            or file.is_symlink()
            or not _FILE_NAME.match(relative.name)
            or not all(_FOLDER_NAME.match(part) for part in relative.parts[:-1])
        ):
            continue
        files[relative.as_posix()] = StaticFile(content_type, file.read_bytes())
    return files


def not_found(connection: ServerConnection) -> Response:
    """404, with a page for the browser that took a wrong turn: it links to the join page."""
    page = static_files().get("not-found.html", StaticFile("text/plain; charset=utf-8", b""))
    body = page.body or b"not found\n"
    return _response(connection, StaticFile(page.content_type, body), HTTPStatus.NOT_FOUND)


def json_page(connection: ServerConnection, body: object) -> Response:
    """``body`` as a JSON document, with the same headers as every page."""
    encoded = (json.dumps(body) + "\n").encode()
    return _response(connection, StaticFile(CONTENT_TYPES[".json"], encoded))


def _response(
    connection: ServerConnection, found: StaticFile, status: HTTPStatus = HTTPStatus.OK
) -> Response:
    base = connection.respond(status, "")
    headers = Headers(base.headers)
    for name in ("Content-Type", "Content-Length"):
        del headers[name]
    headers["Content-Type"] = found.content_type
    headers["Content-Length"] = str(len(found.body))
    for name, value in _SECURITY_HEADERS:
        headers[name] = value
    return Response(base.status_code, base.reason_phrase, headers, found.body)
