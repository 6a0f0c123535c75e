"""The host's secret and operator key, kept in owner-only files across restarts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dreamcommons.server.kept_secrets import (
    SecretUnavailable,
    keep_secrets,
    secret_paths,
    state_directory,
)
from dreamcommons.server.settings import ServerSettings


def test_a_generated_secret_and_key_are_written_once_and_read_again(tmp_path: Path) -> None:
    first = keep_secrets(ServerSettings(state_dir=tmp_path / "state"))
    again = keep_secrets(ServerSettings(state_dir=tmp_path / "state"))
    assert again.settings.secret == first.settings.secret
    assert again.settings.host_key == first.settings.host_key
    for name in ("secret", "host-key"):
        assert stat.S_IMODE((tmp_path / "state" / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert first.note is not None
    assert str(tmp_path / "state" / "secret") in first.note
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["host-key", "secret"]


def test_beside_the_journal_when_there_is_one(tmp_path: Path) -> None:
    settings = ServerSettings(journal=tmp_path / "dreams.sqlite", state_dir=None)
    assert secret_paths(settings) == (
        tmp_path / "dreams.sqlite.secret",
        tmp_path / "dreams.sqlite.host-key",
    )
    kept = keep_secrets(settings)
    assert (tmp_path / "dreams.sqlite.secret").read_text().strip() == kept.settings.secret


def test_the_state_directory_follows_xdg_state_home(tmp_path: Path) -> None:
    assert state_directory({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "dreamcommons"
    assert state_directory({}) == Path.home() / ".local" / "state" / "dreamcommons"


def test_what_was_given_is_not_written(tmp_path: Path) -> None:
    given = ServerSettings(state_dir=tmp_path, secret="s" * 20, host_key="k" * 20)
    kept = keep_secrets(given)
    assert kept.settings.secret == "s" * 20
    assert kept.settings.host_key == "k" * 20
    assert kept.note is None
    assert list(tmp_path.iterdir()) == []


def test_an_ephemeral_secret_writes_nothing_and_says_what_it_breaks(tmp_path: Path) -> None:
    kept = keep_secrets(ServerSettings(state_dir=tmp_path, ephemeral_secret=True))
    assert list(tmp_path.iterdir()) == []
    assert kept.note is not None
    assert "stop working when this server stops" in kept.note


def test_a_file_without_a_usable_secret_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("short\n")
    with pytest.raises(SecretUnavailable, match="remove it"):
        keep_secrets(ServerSettings(state_dir=tmp_path))
