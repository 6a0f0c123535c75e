"""The ``dreamcommons`` command, run as users run it: host, join, demo, in child processes."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import stat
import urllib.request
from pathlib import Path

import pytest

from dreamcommons.cli.main import _parser
from dreamcommons.server.broker import MosquittoProcess
from dreamcommons.server.journal.schema import connect_reader
from dreamcommons.server.journal.signals import signal_owners
from tests.conftest import within
from tests.processes import dreamcommons, end, free_port, read_until

pytestmark = pytest.mark.integration


async def test_ctrl_c_ends_the_demo_cleanly_and_its_own_broker_last() -> None:
    """A terminal's Ctrl-C goes to its whole foreground process group: the demo's Mosquitto,
    in a session of its own, must not die under the devices and the server that use it."""
    nobody_there = f"mqtt://127.0.0.1:{free_port()}"  # so the demo starts a Mosquitto of its own
    args = ("demo", "--bots", "2", "--broker", nobody_there)
    async with dreamcommons(*args, own_group=True) as demo:
        seen = await read_until(demo, " tick ", within(30))
        os.killpg(demo.pid, signal.SIGINT)
        rest, _ = await asyncio.wait_for(demo.communicate(), within(30))
    text = seen + rest.decode()
    assert demo.returncode == 0, text
    assert "summary:" in text
    for noise in ("Traceback", "Broken pipe", "never retrieved", "Unexpected disconnection"):
        assert noise not in text, text


async def test_demo_runs_bots_with_devices_and_ends_with_a_json_summary(tmp_path: Path) -> None:
    nobody_there = f"mqtt://127.0.0.1:{free_port()}"  # so the demo starts a Mosquitto of its own
    journal = tmp_path / "night.sqlite"
    args = ("demo", "--seconds", "5", "--bots", "4", "--json", "--broker", nobody_there,
            "--journal", str(journal))  # fmt: skip
    async with dreamcommons(*args) as demo:
        output, _ = await asyncio.wait_for(demo.communicate(), within(45))
    text = output.decode()
    assert demo.returncode == 0, text
    assert "(a Mosquitto child process)" in text
    assert "/s/demo" in text
    assert "/watch/demo" in text
    assert "/host/demo" in text
    summary = json.loads(text.strip().splitlines()[-1])
    assert summary["participants"] == 4
    assert summary["bots_failed"] == 0
    assert summary["contributions_sent"] > 0
    assert summary["contributions_accepted"] == summary["contributions_sent"]
    assert summary["contributions_refused"] == 0
    assert summary["contributions_by_others"] == 0  # nobody joined but the bots
    assert summary["bots"] == 4
    assert summary["ticks"] >= 20
    assert summary["motifs"] > 0
    assert summary["devices_online"] == 4
    assert summary["devices_paired"] == 4
    assert summary["bio_messages"] > 0
    assert summary["bio_samples"] >= summary["bio_messages"]
    assert summary["samples_lost"] >= 0
    assert summary["coherence_min"] is not None  # the sleepers' breathing reached the engine
    assert 0.0 <= summary["coherence_min"] <= 1.0
    assert summary["harmonizations"] >= 0
    assert summary["fractures"] >= 0
    if summary["coherence_final"] is not None:
        assert summary["chance_final"] is not None
        assert 0.0 < summary["chance_final"] < 1.0
        assert "by chance for" in text
    assert f"the night is kept in {journal}" in text
    conn = connect_reader(journal)  # the demo's night, kept: every sleeper's signals
    try:
        sleepers = {pid for _, pid in signal_owners(conn, "demo")}
    finally:
        conn.close()
    assert len(sleepers) == 4


async def test_demo_uses_a_broker_that_is_already_listening(mosquitto: MosquittoProcess) -> None:
    args = ("demo", "--seconds", "2", "--bots", "3", "--json", "--broker", mosquitto.url)
    async with dreamcommons(*args) as demo:
        output, _ = await asyncio.wait_for(demo.communicate(), within(45))
    text = output.decode()
    assert demo.returncode == 0, text
    assert f"devices on {mosquitto.url} (the broker already there)" in text
    assert json.loads(text.strip().splitlines()[-1])["devices_paired"] == 3


async def test_demo_takes_its_broker_from_the_environment_as_host_does(
    mosquitto: MosquittoProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DREAMCOMMONS_BROKER", mosquitto.url)  # the child inherits it
    async with dreamcommons("demo", "--seconds", "1", "--bots", "2", "--json") as demo:
        output, _ = await asyncio.wait_for(demo.communicate(), within(45))
    text = output.decode()
    assert demo.returncode == 0, text
    assert f"devices on {mosquitto.url} (the broker already there)" in text


def test_every_demo_option_says_what_it_does() -> None:
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    demo: argparse.ArgumentParser = commands.choices["demo"]
    assert [action.dest for action in demo._actions if not action.help] == []


async def test_host_and_two_joins_see_each_others_contributions() -> None:
    port = free_port()
    host_args = ("--port", str(port), "--venue", "harmony-festival", "--session", "festival")
    async with dreamcommons("host", *host_args) as host:
        banner = await read_until(host, "browser:", within(15))
        code = re.search(r"join code (\S+)", banner)
        assert code is not None, banner
        url = f"ws://127.0.0.1:{port}/festival"
        lyra_url = f"{url}?code={code[1]}"  # the code in the URL, or with --code: both work
        async with (
            dreamcommons("join", lyra_url, "--name", "Lyra", "--refresh", "0.3") as lyra,
            dreamcommons(
                "join", url, "--code", code[1], "--name", "Zara", "--json", "--refresh", "0.3"
            ) as zara,
        ):
            await read_until(lyra, "joined festival", within(15))
            await read_until(zara, "joined festival", within(15))
            logged = await read_until(host, " joined festival as ", within(15))
            assert "connection open" not in logged  # websockets' own lines: only with -v
            assert lyra.stdin is not None
            assert zara.stdin is not None
            lyra.stdin.write(b"cocoon 0.9\n")
            zara.stdin.write(b"/w night owls welcome\n")
            zara.stdin.write(b"neon\n")
            await lyra.stdin.drain()
            await zara.stdin.drain()
            await read_until(zara, "cocoon", within(15))
            here = (await read_until(zara, "here:", within(5))).splitlines()[-1]
            assert "Lyra" in here
            assert "*Zara" in here
            await read_until(lyra, 'Zara whispers: "night owls welcome"', within(15))
            await read_until(lyra, "neon", within(15))
        health = await asyncio.to_thread(_get_json, f"http://127.0.0.1:{port}/healthz")
        assert health["venue"] == "harmony-festival"
        assert health["sessions"] == 1


async def test_an_unknown_venue_is_a_clear_error() -> None:
    async with dreamcommons("host", "--venue", "atlantis", "--port", str(free_port())) as host:
        output, _ = await asyncio.wait_for(host.communicate(), within(15))
    assert host.returncode == 2
    assert "atlantis" in output.decode()
    assert "sleep-commons" in output.decode()


async def test_joining_a_private_session_without_its_code_says_what_is_missing() -> None:
    port = free_port()
    async with dreamcommons("host", "--port", str(port)) as host:
        await read_until(host, "hosting", within(15))
        url = f"ws://127.0.0.1:{port}/commons"
        async with dreamcommons("join", url, "--name", "Eve") as eve:
            output, _ = await asyncio.wait_for(eve.communicate(), within(15))
    assert eve.returncode == 1
    assert "invitation_required" in output.decode()
    assert "--code" in output.decode()


async def test_a_restarted_host_keeps_its_join_codes_and_operator_key(tmp_path: Path) -> None:
    state = tmp_path / "state"
    banners = []
    for _ in range(2):
        args = ("--port", str(free_port()), "--state-dir", str(state))
        async with dreamcommons("host", *args) as host:
            banners.append(await read_until(host, "browser:", within(15)))
    first, again = (_credentials(banner) for banner in banners)
    assert first == again
    assert f"the secret in {state / 'secret'}" in banners[0]
    assert _mode(state / "secret") == 0o600


async def test_an_ephemeral_secret_is_not_kept_and_the_host_is_told(tmp_path: Path) -> None:
    args = ("--state-dir", str(tmp_path), "--ephemeral-secret")
    async with dreamcommons("host", "--port", str(free_port()), *args) as host:
        banner = await read_until(host, "browser:", within(15))
    assert "stop working when this server stops" in banner
    assert _listing(tmp_path) == []


def _credentials(banner: str) -> tuple[str, str]:
    """The join code and the operator key a host printed."""
    code = re.search(r"join code (\S+)", banner)
    key = re.search(r"operator key: (\S+)", banner)
    assert code is not None, banner
    assert key is not None, banner
    return code[1], key[1]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _listing(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def test_a_port_in_use_is_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        journal = tmp_path / "dreams.sqlite"
        args = ("--port", str(port), "--journal", str(journal))
        async with dreamcommons("host", *args, stdin=asyncio.subprocess.DEVNULL) as host:
            output, _ = await asyncio.wait_for(host.communicate(), within(15))
    text = output.decode()
    assert host.returncode == 2, text
    assert f"127.0.0.1:{port} is already in use" in text
    assert "--port" in text
    assert "Traceback" not in text
    assert _listing(tmp_path) == ["dreams.sqlite"]  # the journal was closed again, unlocked


async def test_a_clean_stop_leaves_no_lock_file_beside_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "dreams.sqlite"
    args = ("--port", str(free_port()), "--journal", str(journal))
    async with dreamcommons("host", *args) as host:
        await read_until(host, "browser:", within(15))
        assert "dreams.sqlite.lock" in _listing(tmp_path)  # held while the server runs
        await end(host)  # SIGTERM: a clean stop
    assert host.returncode == 0
    assert "dreams.sqlite.lock" not in _listing(tmp_path)


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=within(5)) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]
