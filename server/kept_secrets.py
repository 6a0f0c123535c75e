"""The host's secret and operator key, kept across restarts in files only their owner reads.

When neither is given (flag, ``DREAMCOMMONS_SECRET``, ``DREAMCOMMONS_HOST_KEY``), the host
reads each from its file, or writes a new one there once (mode 0600, in a directory of mode
0700): beside the journal (``dreams.sqlite.secret``, ``dreams.sqlite.host-key``) when there
is one, else in the state directory (``$XDG_STATE_HOME/dreamcommons/``, by default
``~/.local/state/dreamcommons/``); ``state_dir`` chooses another directory for both.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dreamcommons.contracts.errors import DreamcommonsError
from dreamcommons.server.settings import ServerSettings, new_host_key, new_secret

log = logging.getLogger(__name__)

EPHEMERAL_WARNING = (
    "ephemeral secret: the join codes, invitation links and operator key printed below stop "
    "working when this server stops, and clients cannot resume after a restart"
)


class SecretUnavailable(DreamcommonsError):
    """The file that keeps the secret or the operator key cannot be read or written."""


@dataclass(frozen=True)
class KeptSecrets:
    """The settings with their secret and operator key in place, and what to tell the host."""

    settings: ServerSettings
    note: str | None


def state_directory(environ: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_STATE_HOME/dreamcommons``, else ``~/.local/state/dreamcommons``."""
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dreamcommons"


def secret_paths(settings: ServerSettings) -> tuple[Path, Path]:
    """Where the secret and the operator key are kept for these settings."""
    if settings.state_dir is not None:
        return settings.state_dir / "secret", settings.state_dir / "host-key"
    if settings.journal is not None:
        journal = settings.journal
        return (
            journal.with_name(journal.name + ".secret"),
            journal.with_name(journal.name + ".host-key"),
        )
    directory = state_directory()
    return directory / "secret", directory / "host-key"


def keep_secrets(settings: ServerSettings) -> KeptSecrets:
    """Fill in the secret and the operator key that were not given from their files."""
    if settings.ephemeral_secret:
        return KeptSecrets(settings, EPHEMERAL_WARNING)
    given = settings.model_fields_set
    secret_path, key_path = secret_paths(settings)
    update: dict[str, str] = {}
    kept: list[str] = []
    if "secret" not in given:
        update["secret"] = kept_value(secret_path, new_secret, min_length=16)
        kept.append(f"the secret in {secret_path}")
    if "host_key" not in given:
        update["host_key"] = kept_value(key_path, new_host_key, min_length=16)
        kept.append(f"the operator key in {key_path}")
    if not kept:
        return KeptSecrets(settings, None)
    note = f"kept across restarts: {', '.join(kept)}"
    return KeptSecrets(settings.model_copy(update=update), note)


def kept_value(path: Path, make: Callable[[], str], *, min_length: int) -> str:
    """The value kept in ``path``; made with ``make()`` and written there first if absent."""
    try:
        return _read(path, min_length)
    except FileNotFoundError:
        pass
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    except OSError as exc:
        raise SecretUnavailable(f"cannot write {path}: {exc}") from exc
    value = make()
    try:
        with os.fdopen(fd, "w", encoding="ascii") as file:
            file.write(value + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.link(draft, path)  # whole or not at all; never over one another host wrote first
    except FileExistsError:
        return _read(path, min_length)
    except OSError as exc:
        raise SecretUnavailable(f"cannot write {path}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(draft)
    return value


def _read(path: Path, min_length: int) -> str:
    try:
        mode = path.stat().st_mode
        value = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretUnavailable(f"cannot read {path}: {exc}") from exc
    if len(value) < min_length:
        raise SecretUnavailable(
            f"{path} holds no usable secret (fewer than {min_length} characters); "
            "remove it to make a new one"
        )
    if stat.S_IMODE(mode) & 0o077:
        log.warning("%s can be read by others than its owner: chmod 600 it", path)
    return value
