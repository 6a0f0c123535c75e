"""``/help`` (F1) in the terminal app: every command the role has, over the dreamscape.

The lines are ``help_lines``'s, from the command table the parser reads, so what is listed is
what may be typed. Any key closes it.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static

from dreamcommons.client.commands import help_lines
from dreamcommons.contracts.protocol import Role


class HelpScreen(ModalScreen[None]):
    """The commands of one role, a line each, until a key or a click."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static {
        width: auto; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; padding: 0 1; background: $surface;
    }
    """

    def __init__(self, role: Role) -> None:
        super().__init__()
        self.role = role

    def compose(self) -> ComposeResult:
        lines = Text("\n".join(help_lines(self.role)), no_wrap=True, overflow="ellipsis")
        box = Static(lines, markup=False, id="help")
        box.border_title = f"commands for a {self.role}"
        box.border_subtitle = "any key closes"
        yield box

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.dismiss()

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.dismiss()
