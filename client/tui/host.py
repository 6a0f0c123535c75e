"""The host's controls: the session's phases, harmonizing, and removing a participant.

A row of buttons, with shorter labels in a narrow terminal; pressing one posts
``HostPanel.Requested`` with the action, and the app sends it (for "remove", the participant
highlighted in the participants list).
"""

from __future__ import annotations

from typing import Final

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button

from dreamcommons.contracts.protocol import HostActionName

BUTTONS: Final[tuple[tuple[HostActionName, str, str, str], ...]] = (  # label, narrow label
    ("start", "▶ start", "▶ start", "success"),
    ("pause", "⏸ pause", "⏸ pause", "default"),
    ("resume", "⏵ resume", "⏵ resume", "default"),
    ("advance", "⏭ next phase", "⏭ next", "default"),
    ("end", "⏹ end", "⏹ end", "warning"),
    ("harmonize", "∿ harmonize", "∿ harmonize", "primary"),
    ("remove", "✕ remove selected", "✕ remove", "error"),
)
NARROW: Final = 96  # under this many cells the row takes the narrow labels, to fit 80 columns


class HostPanel(Horizontal):
    """The host console's row of controls."""

    DEFAULT_CSS = """
    HostPanel { height: auto; border: round $warning-darken-1; padding: 0 1; }
    HostPanel Button { min-width: 8; margin-right: 1; }
    """

    class Requested(Message):
        """The host pressed a control."""

        def __init__(self, action: HostActionName) -> None:
            super().__init__()
            self.action: HostActionName = action

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "host"

    def compose(self) -> ComposeResult:
        for action, label, _, variant in BUTTONS:
            yield Button(label, id=f"host-{action}", variant=variant, compact=True)  # type: ignore[arg-type]

    def on_resize(self) -> None:
        narrow = self.size.width < NARROW
        for action, label, short, _ in BUTTONS:
            self.query_one(f"#host-{action}", Button).label = short if narrow else label

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button_id = event.button.id or ""
        for action, _, _, _ in BUTTONS:
            if button_id == f"host-{action}":
                self.post_message(self.Requested(action))
                return
