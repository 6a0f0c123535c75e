"""The credentials an ``mqtt://[USER:PASSWORD@]HOST:PORT`` broker URL may carry."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit


def broker_credentials(url: str) -> tuple[str | None, str | None]:
    """``(username, password)`` from the URL's user part, each None when absent."""
    parts = urlsplit(url)
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return username, password


def without_credentials(url: str) -> str:
    """The URL as it may be shown or logged: no user, no password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()
