"""The command line's little language, parsed without a network."""

from __future__ import annotations

import re

import pytest

from dreamcommons.client.commands import (
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
    parse,
)
from dreamcommons.client.errors import CommandError, DreamClientError


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
    assert parse(line) == command


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
        parse(line)


def test_a_command_error_is_one_of_the_clients_errors() -> None:
    with pytest.raises(DreamClientError):
        parse("/dance")
