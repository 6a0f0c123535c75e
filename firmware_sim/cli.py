"""The device commands of ``dreamcommons``: ``device`` (one) and ``fleet`` (many)."""

from __future__ import annotations

import argparse


def add_device_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``device`` and ``fleet`` on the ``dreamcommons`` command line."""
