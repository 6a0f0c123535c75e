"""Every command and every option of the command line says what it is for in --help."""

from __future__ import annotations

import argparse

from dreamcommons.cli.main import _parser


def test_every_option_of_every_command_has_help_text() -> None:
    root = _parser()
    (commands,) = [a for a in root._actions if isinstance(a, argparse._SubParsersAction)]
    silent = [
        f"{name} {action.option_strings or action.dest}"
        for name, command in commands.choices.items()
        for action in command._actions
        if action.help is None and not isinstance(action, argparse._HelpAction)
    ]
    assert silent == []
    assert {choice.dest for choice in commands._choices_actions if not choice.help} == set()
