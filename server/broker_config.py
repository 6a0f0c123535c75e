"""A Mosquitto 2 configuration in which every device is confined to its own topics.

``write_broker_config(out, device_ids)`` writes into ``out``:

- ``mosquitto.conf``: one listener, no anonymous clients, the files below, client id forced
  to the username (so that no one can take over another's session by its client id);
- ``passwords``: a Mosquitto password file (PBKDF2-SHA512, the format ``mosquitto_passwd``
  writes), one user per device plus the server, the operator's command tool and Home Assistant;
- ``acl``: a device publishes only under ``dreamcommons/v1/devices/<its id>/`` (never to
  ``commands`` or ``set``) and its own Home Assistant discovery, and reads only its own
  ``commands``, ``set/+`` and Home Assistant's status; the server reads every device, commands
  any, and publishes its own status and its sessions' discovery and state; the operator
  commands and reads acks; Home Assistant reads discovery, availability and state and sets
  the devices' levels (``docs/home-assistant.md``);
- ``devices.txt`` (``device_id password`` lines, for ``dreamcommons fleet --credentials``),
  ``server.env`` (the broker URLs with the server's and the operator's credentials) and
  ``home-assistant.txt`` (the username and password for Home Assistant's MQTT integration).

The secrets files are readable by their owner only.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dreamcommons.contracts.device_protocol import SERVER_ROOT, TOPIC_ROOT
from dreamcommons.contracts.home_assistant import DISCOVERY_PREFIX, HA_STATUS_TOPIC

SERVER_USER = "dreamcommons-server"
OPERATOR_USER = "dreamcommons-operator"
HOME_ASSISTANT_USER = "homeassistant"
_DEVICE_PUBLISHES = ("birth", "status", "samples", "events", "acks")
_DEVICE_SHOWS = ("availability", "state")  # for Home Assistant, with --ha-discovery
_PBKDF2_ITERATIONS = 101  # what mosquitto_passwd writes; the file names its own count
_SALT_BYTES = 12


@dataclass(frozen=True, slots=True)
class Credential:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """What ``write_broker_config`` wrote: the files and everyone's credentials."""

    directory: Path
    server: Credential
    operator: Credential
    devices: tuple[Credential, ...]
    home_assistant: Credential

    @property
    def conf(self) -> Path:
        return self.directory / "mosquitto.conf"

    def broker_url(self, who: Credential, host: str, port: int) -> str:
        return f"mqtt://{who.username}:{who.password}@{host}:{port}"


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto 2 password file entry's hash: ``$7$iterations$salt$pbkdf2-sha512``."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS)
    encoded_salt = base64.b64encode(salt).decode()
    return f"$7${_PBKDF2_ITERATIONS}${encoded_salt}${base64.b64encode(digest).decode()}"


def acl_text() -> str:
    """The ACL: the server and the operator by name, every device by pattern (``%u`` is the
    username, which is the device id)."""
    lines = [
        "# dreamcommons: each device only its own topics; written by `dreamcommons broker-config`",
        "",
        f"user {SERVER_USER}",
        *(f"topic read {TOPIC_ROOT}/+/{leaf}" for leaf in _DEVICE_PUBLISHES),
        f"topic write {TOPIC_ROOT}/+/commands",
        f"topic write {SERVER_ROOT}/+/status",
        f"topic write {SERVER_ROOT}/+/sessions/+/state",
        f"topic write {DISCOVERY_PREFIX}/device/+/+/config",
        f"topic read {HA_STATUS_TOPIC}",
        "",
        f"user {OPERATOR_USER}",
        f"topic write {TOPIC_ROOT}/+/commands",
        f"topic read {TOPIC_ROOT}/+/acks",
        "",
        f"user {HOME_ASSISTANT_USER}",
        f"topic readwrite {HA_STATUS_TOPIC}",
        f"topic read {DISCOVERY_PREFIX}/device/+/config",
        f"topic read {DISCOVERY_PREFIX}/device/+/+/config",
        *(f"topic read {TOPIC_ROOT}/+/{leaf}" for leaf in _DEVICE_SHOWS),
        f"topic write {TOPIC_ROOT}/+/set/+",
        f"topic read {SERVER_ROOT}/+/status",
        f"topic read {SERVER_ROOT}/+/sessions/+/state",
        "",
        "# every other user is a device whose username is its device id",
        *(f"pattern write {TOPIC_ROOT}/%u/{leaf}" for leaf in _DEVICE_PUBLISHES),
        *(f"pattern write {TOPIC_ROOT}/%u/{leaf}" for leaf in _DEVICE_SHOWS),
        f"pattern write {DISCOVERY_PREFIX}/device/%u/config",
        f"pattern read {TOPIC_ROOT}/%u/commands",
        f"pattern read {TOPIC_ROOT}/%u/set/+",
        f"pattern read {HA_STATUS_TOPIC}",
        "",
    ]
    return "\n".join(lines)


def security_lines(directory: Path) -> str:
    """The lines of ``mosquitto.conf`` that turn the security on, for any listener."""
    return (
        "allow_anonymous false\n"
        f"password_file {directory / 'passwords'}\n"
        f"acl_file {directory / 'acl'}\n"
    )


def _listener_lines(host: str, port: int) -> str:
    return (
        f"listener {port} {host}\n"
        "use_username_as_clientid true\n"
        "# Production: TLS on 8883 instead (see docs/security.md)\n"
        "#listener 8883 0.0.0.0\n"
        "#certfile /etc/mosquitto/certs/broker.crt\n"
        "#keyfile /etc/mosquitto/certs/broker.key\n"
        "#cafile /etc/mosquitto/certs/ca.crt\n"
        "#tls_version tlsv1.3\n"
        "#use_username_as_clientid true\n"
    )


def write_broker_config(
    out: Path,
    device_ids: Iterable[str],
    *,
    host: str = "127.0.0.1",
    port: int = 1883,
    reserved: Sequence[str] = (SERVER_USER, OPERATOR_USER, HOME_ASSISTANT_USER),
) -> BrokerConfig:
    """Write the configuration for ``device_ids`` into ``out`` (created if needed), with
    fresh random passwords for everyone."""
    ids = list(dict.fromkeys(device_ids))
    clash = set(ids) & set(reserved)
    if clash:
        raise ValueError(f"device ids may not be {', '.join(sorted(clash))}")
    out.mkdir(parents=True, exist_ok=True)
    server = Credential(SERVER_USER, secrets.token_urlsafe(24))
    operator = Credential(OPERATOR_USER, secrets.token_urlsafe(24))
    devices = tuple(Credential(device_id, secrets.token_urlsafe(18)) for device_id in ids)
    home_assistant = Credential(HOME_ASSISTANT_USER, secrets.token_urlsafe(24))
    everyone = (server, operator, home_assistant, *devices)
    _write_private(
        out / "passwords", "".join(f"{c.username}:{password_hash(c.password)}\n" for c in everyone)
    )
    (out / "acl").write_text(acl_text())
    _write_private(out / "devices.txt", "".join(f"{c.username} {c.password}\n" for c in devices))
    config = BrokerConfig(out.resolve(), server, operator, devices, home_assistant)
    _write_private(
        out / "home-assistant.txt",
        "# Home Assistant > Settings > Devices & services > MQTT: this broker, and\n"
        f"username {home_assistant.username}\npassword {home_assistant.password}\n",
    )
    _write_private(
        out / "server.env",
        f"DREAMCOMMONS_BROKER={config.broker_url(server, host, port)}\n"
        f"# for `dreamcommons command --broker ...`:\n"
        f"# {config.broker_url(operator, host, port)}\n",
    )
    conf = "persistence false\n" + _listener_lines(host, port) + security_lines(out.resolve())
    (out / "mosquitto.conf").write_text(conf)
    return config


def _write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
