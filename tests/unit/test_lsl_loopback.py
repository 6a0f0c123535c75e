"""Confining Lab Streaming Layer to this machine: the environment liblsl reads, set in time."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dreamcommons.lsl_bridge.loopback import (
    ENVIRONMENT,
    LOOPBACK_CONFIG,
    ConfinementFailed,
    confine_to_this_machine,
    stays_on_this_machine,
)


def test_the_shipped_configuration_stays_on_this_machine() -> None:
    assert stays_on_this_machine(LOOPBACK_CONFIG)


def test_unset_it_points_liblsl_at_the_shipped_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    monkeypatch.delitem(sys.modules, "pylsl", raising=False)
    assert confine_to_this_machine() == LOOPBACK_CONFIG
    assert Path(os.environ[ENVIRONMENT]) == LOOPBACK_CONFIG


def test_too_late_once_pylsl_is_imported_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENVIRONMENT, raising=False)
    monkeypatch.setitem(sys.modules, "pylsl", sys)
    with pytest.raises(ConfinementFailed, match="imported before LSLAPICFG"):
        confine_to_this_machine()


def test_a_configuration_already_chosen_is_kept_if_it_exists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chosen = tmp_path / "lab.cfg"
    chosen.write_text("[multicast]\nResolveScope = site\n")
    monkeypatch.setenv(ENVIRONMENT, str(chosen))
    assert confine_to_this_machine() == chosen
    assert not stays_on_this_machine(chosen)
    monkeypatch.setenv(ENVIRONMENT, str(tmp_path / "missing.cfg"))
    with pytest.raises(ConfinementFailed, match="not a readable file"):
        confine_to_this_machine()


def test_a_file_liblsl_could_not_read_does_not_pass(tmp_path: Path) -> None:
    broken = tmp_path / "broken.cfg"
    broken.write_text("no section header\n")
    assert not stays_on_this_machine(broken)
