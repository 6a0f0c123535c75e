"""How a server or a device reaches the broker: ``mqtt://[USER:PASSWORD@]HOST:PORT`` URLs and
the ``devices.txt`` credentials file that ``dreamcommons broker-config`` writes."""

from __future__ import annotations

from pathlib import Path
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


def parse_broker_url(url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``mqtt://`` URL (port 1883 when absent)."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ValueError(f"expected mqtt://HOST:PORT, got {url!r}")
    return parts.hostname, parts.port or 1883


def read_device_credentials(path: Path) -> dict[str, str]:
    """``devices.txt`` as ``{device_id: password}``."""
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{number}: expected 'device_id password'")
        found[parts[0]] = parts[1]
    return found
