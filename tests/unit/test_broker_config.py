"""The Mosquitto configuration of ``dreamcommons broker-config``: files, hashes, ACL."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from dreamcommons.cli.main import main
from dreamcommons.contracts.broker_access import (
    broker_credentials,
    read_device_credentials,
    without_credentials,
)
from dreamcommons.server.broker_config import (
    OPERATOR_USER,
    SERVER_USER,
    acl_text,
    password_hash,
    write_broker_config,
)


def test_the_hash_is_the_one_mosquitto_passwd_writes() -> None:
    # `mosquitto_passwd -b -c FILE alice secret` (Mosquitto 2.0.11) wrote this line:
    written = (
        "alice:$7$101$my7FRPV5bPKmP8pV$E7iVlUZhXASHLKfsloGVSxSoWf8jSu+1s/lBDkkLKglQNa9Nfj7JEEkI"
        "u1ImVakPOaE/lupS7rNwzS9HxudAAg=="
    )
    salt = base64.b64decode(written.split("$")[3])
    assert f"alice:{password_hash('secret', salt=salt)}" == written


def test_every_hash_has_its_own_salt() -> None:
    assert password_hash("same") != password_hash("same")


def test_the_acl_confines_devices_to_their_own_subtree() -> None:
    acl = acl_text().splitlines()
    patterns = [line for line in acl if line.startswith("pattern")]
    # every device reads Home Assistant's birth; all else is its own
    assert all("/%u/" in line for line in patterns if line != "pattern read homeassistant/status")
    assert "pattern write homeassistant/device/%u/config" in patterns
    assert not any("write" in line and "/set/" in line for line in patterns)
    assert "pattern read dreamcommons/v1/devices/%u/commands" in patterns
    assert not any("write" in line and line.endswith("/commands") for line in patterns)
    assert not any(line.rstrip().endswith("#") for line in acl if not line.startswith("#"))
    assert f"user {SERVER_USER}" in acl
    assert f"user {OPERATOR_USER}" in acl


def test_the_files_are_written_and_the_secrets_kept_private(tmp_path: Path) -> None:
    config = write_broker_config(tmp_path, ["pod-a1", "fabric-b2", "pod-a1"], port=1999)
    assert [d.username for d in config.devices] == ["pod-a1", "fabric-b2"]
    for name in ("passwords", "devices.txt", "server.env", "home-assistant.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    users = [line.split(":")[0] for line in (tmp_path / "passwords").read_text().splitlines()]
    assert users == [SERVER_USER, OPERATOR_USER, "homeassistant", "pod-a1", "fabric-b2"]
    assert (
        f"password {config.home_assistant.password}"
        in (tmp_path / "home-assistant.txt").read_text()
    )
    assert read_device_credentials(tmp_path / "devices.txt") == {
        d.username: d.password for d in config.devices
    }
    conf = config.conf.read_text()
    assert "allow_anonymous false" in conf
    assert "listener 1999 127.0.0.1" in conf
    assert "use_username_as_clientid true" in conf
    env = (tmp_path / "server.env").read_text()
    assert f"DREAMCOMMONS_BROKER=mqtt://{SERVER_USER}:{config.server.password}@" in env


def test_a_device_may_not_take_the_servers_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=SERVER_USER):
        write_broker_config(tmp_path, [SERVER_USER])


def test_the_command_names_the_fleets_devices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dreamcommons.firmware_sim.fleet import fleet_configs

    out = tmp_path / "broker"
    assert main(["broker-config", "--out", str(out), "--devices", "4", "--seed", "3"]) == 0
    expected = {c.device_id for c in fleet_configs(4, seed=3)}
    assert set(read_device_credentials(out / "devices.txt")) == expected
    assert "--credentials" in capsys.readouterr().out


def test_the_command_refuses_bad_device_ids(tmp_path: Path) -> None:
    assert main(["broker-config", "--out", str(tmp_path), "--device", "Bad/Id"]) == 2
    assert main(["broker-config", "--out", str(tmp_path)]) == 2


def test_broker_urls_carry_credentials_that_logs_do_not_show() -> None:
    url = "mqtt://pod-a1:p%40ss@broker.example:8883"
    assert broker_credentials(url) == ("pod-a1", "p@ss")
    assert broker_credentials("mqtt://broker.example") == (None, None)
    assert without_credentials(url) == "mqtt://broker.example:8883"
