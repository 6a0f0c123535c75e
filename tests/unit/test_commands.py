"""The command line's little language, parsed without a network."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from dreamcommons.client.commands import (
    COMMANDS,
    FEELING_NAMES,
    Feeling,
    HostCommand,
    Invite,
    PairDevice,
    Quit,
    RaiseMotif,
    SendWhisper,
    SetFeeling,
    SetShare,
    ShowMe,
    commands_for,
    help_lines,
    parse,
)
from dreamcommons.client.errors import CommandError, DreamClientError
from dreamcommons.contracts.protocol import HostActionName, Role


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("moon", RaiseMotif("moon")),
        ("  Moon 0.9 ", RaiseMotif("moon", 0.9)),
        ("/private moon 0.3", RaiseMotif("moon", 0.3, private=True)),
        ("/w the river <b>hums</b>", SendWhisper("the river <b>hums</b>")),
        ("/share 0.5", SetShare(0.5)),
        ("/share 0.5 stage", SetShare(0.5, show_stage=True)),
        ("/invite", Invite()),
        ("/invite watcher 12", Invite("watcher", 12.0)),
        ("/pair k7qm-xhd2-pq", PairDevice("K7QMXHD2PQ")),
        ("/pair K7QM XHD2 PQ", PairDevice("K7QMXHD2PQ")),
        ("/feel calm", SetFeeling(FEELING_NAMES["calm"])),
        ("/feel -0.5 0.9", SetFeeling(Feeling("your own", -0.5, 0.9))),
        ("/harmonize", HostCommand("harmonize")),
        ("/remove p3", HostCommand("remove", "p3")),
        ("/q", Quit()),
        ("/me", ShowMe()),
        ("   ", None),
    ],
)
def test_lines_mean_commands(line: str, command: object) -> None:
    assert parse(line, role_for(line)) == command


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("/share 2", "share level must be from 0 to 1, not 2"),
        ("/share lots", "share level must be a number from 0 to 1, not 'lots'"),
        ("/share 0.5 everything", "'/share 0.5 stage' your sleep stage too"),
        ("/invite king", "invite whom?"),
        ("/invite watcher soon", "hours must be a number, not 'soon'"),
        ("/feel giddy", "feel what?"),
        ("/feel 0.5 2", "arousal must be from 0 to 1"),
        ("/feel -2 0.5", "valence must be from -1 to 1"),
        ("/w", "whisper what?"),
        ("/pair 12", "a pairing code is the 10 letters and digits"),
        ("/remove", "remove whom?"),
        ("/advance now", "/advance takes no argument"),
        ("9lives", "is not a motif name"),
        ("/dance", "unknown command /dance"),
    ],
)
def test_nonsense_says_what_is_wrong(line: str, complaint: str) -> None:
    with pytest.raises(CommandError, match=re.escape(complaint)):
        parse(line, role_for(line))


def test_a_command_error_is_one_of_the_clients_errors() -> None:
    with pytest.raises(DreamClientError):
        parse("/dance", "dreamer")


def role_for(line: str) -> Role:
    """The role that has the command ``line`` starts with: the host's, or a dreamer's."""
    verb = line.strip().partition(" ")[0].lstrip("/")
    return "host" if verb in (*get_args(HostActionName), "invite") else "dreamer"


@pytest.mark.parametrize("role", get_args(Role))
def test_the_help_lists_every_command_a_role_may_type_and_no_other(role: Role) -> None:
    shown = help_lines(role)
    usages = [line.split("  ")[0].rstrip() for line in shown]
    for spec in COMMANDS:
        if role in spec.roles:
            assert spec.usage in usages
            assert parse(spec.example, role) is not None
            assert shown[usages.index(spec.usage)].split(spec.usage, 1)[1].strip() == spec.does
        else:
            assert spec.usage not in usages
            with pytest.raises(CommandError, match="/help"):
                parse(spec.example, role)
    assert len(shown) == len(commands_for(role))


def test_every_verb_of_a_command_means_the_same() -> None:
    for spec in COMMANDS:
        role = next(iter(sorted(spec.roles)))
        _, _, rest = spec.example.partition(" ")
        for verb in spec.verbs:
            assert parse(f"/{verb} {rest}", role) == parse(spec.example, role)


def test_the_host_has_every_host_action_and_only_the_host_does() -> None:
    host_only = set(get_args(HostActionName)) | {"invite"}
    assert host_only <= {spec.verbs[0] for spec in commands_for("host")}
    for role in ("dreamer", "waker", "watcher"):
        assert not host_only & {verb for spec in commands_for(role) for verb in spec.verbs}


@pytest.mark.parametrize(
    ("line", "role", "complaint"),
    [
        ("/harmonize", "dreamer", "/harmonize: only the host may do that; /help lists yours"),
        ("/invite watcher", "waker", "/invite: only the host may do that"),
        ("moon", "watcher", "'moon 0.8' is not for a watcher: /help lists what you can do"),
        ("/w hello", "host", "'/w words' is not for a host"),
        ("/me now", "host", "/me takes no argument"),
    ],
)
def test_a_command_the_role_lacks_is_refused_before_it_is_sent(
    line: str, role: Role, complaint: str
) -> None:
    with pytest.raises(CommandError, match=re.escape(complaint)):
        parse(line, role)
