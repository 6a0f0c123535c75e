"""``DreamApp``: the Textual terminal client, the dreamscape and its panels around one command line.

It keeps itself joined through a ``DreamLink`` (reconnecting with the resume token), shows each
new state in the field and the side panels, and carries out what is typed or pressed: motifs,
emotions, whispers, the share level, device pairing and, in the host console, the host's
controls.
"""

from __future__ import annotations

import contextlib
from typing import ClassVar, Final

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, Header, Input, Static

from dreamcommons.client.actions import about_me, carry_out
from dreamcommons.client.commands import (
    FEELINGS,
    Feeling,
    HostCommand,
    NetworkCommand,
    Quit,
    SetFeeling,
    ShowHelp,
    ShowMe,
    has_command,
    hint,
    parse,
)
from dreamcommons.client.dream_client import DreamClient, split_url
from dreamcommons.client.errors import CommandError, DreamClientError, LinkFailed
from dreamcommons.client.plain_view import people_count
from dreamcommons.client.tui.connection import DreamLink
from dreamcommons.client.tui.field import DreamField
from dreamcommons.client.tui.help import HelpScreen
from dreamcommons.client.tui.host import HostPanel
from dreamcommons.client.tui.panels import DevicesPanel, PeoplePanel, ScenePanel, WhispersPanel
from dreamcommons.contracts.protocol import DreamscapeState, Encoding, Role

WIDE: Final = 120


class DreamApp(App[None]):
    """One participant's view of a dream session; with ``host=True``, the host console."""

    TITLE = "dreamcommons"
    # Under WIDE cells the side panels narrow to a strip (without the devices, which one's own
    # row in "here" counts too), so that the dreamscape keeps most of an 80-column terminal.
    # (Textual declares it ``ClassVar[...] | None``, which mypy takes for an instance variable.)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]  # noqa: RUF012
    CSS = """
    #main { height: 1fr; }
    #side { width: 54; }
    Screen.-narrow #side { width: 30; }
    Screen.-narrow #devices { display: none; }
    Screen.-narrow #people { height: 3fr; }
    Screen.-narrow #whispers { height: 2fr; }
    Screen.-narrow #trend-label { display: none; }
    #side.-hidden { display: none; }
    #link { height: 1; padding: 0 1; color: $text-muted; }
    #note { height: 1; padding: 0 1; }
    #note.error { color: $error; }
    #command { margin: 0 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "help"),
        Binding("f2", "prefill('')", "motif"),
        Binding("f3", "prefill('/w ')", "whisper"),
        Binding("f4", "next_feeling", "emotion"),
        Binding("f5", "prefill('/share ')", "share"),
        Binding("f6", "prefill('/pair ')", "pair"),
        Binding("f7", "toggle_panels", "panels"),
        Binding("escape", "clear", "clear", show=False),
    ]

    def __init__(
        self,
        url: str,
        name: str,
        *,
        role: Role = "dreamer",
        key: str | None = None,
        encoding: Encoding = Encoding.MSGPACK,
    ) -> None:
        """``ValueError`` at once for a URL that is not ``ws://`` or ``wss://``."""
        split_url(url)
        super().__init__()
        self.host_console = role == "host"
        self.feeling: Feeling = FEELINGS[0]
        self.failure: str | None = None
        self.notes: list[str] = []
        self.statuses: list[str] = []
        self.link = DreamLink(
            url,
            name,
            role=role,
            encoding=encoding,
            key=key,
            on_state=self.show_state,
            on_status=self._on_status,
            on_joined=self._on_joined,
        )
        self.sub_title = f"{name} · connecting to {url}"

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield DreamField(id="field")
            with Vertical(id="side"):
                yield ScenePanel(id="scene-panel")
                yield PeoplePanel(id="people")
                yield DevicesPanel(id="devices")
                yield WhispersPanel(id="whispers")
        if self.host_console:
            yield HostPanel(id="host")
        yield Static("connecting…", id="link", markup=False)
        yield Static(hint(self.link.role), id="note", markup=False)
        yield Input(placeholder=PLACEHOLDERS[self.link.role], id="command")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#command", Input).focus()
        self.run_worker(self._stay_linked(), name="dream-link", group="link")

    async def _stay_linked(self) -> None:
        try:
            await self.link.run()
        except LinkFailed as failure:
            self.failure = failure.reason
            self._on_status(f"✕ {failure.reason}")
            self.sub_title = f"{self.link.name} · disconnected"

    # --- what the server says --------------------------------------------------------------

    def show_state(self, state: DreamscapeState, tick_hz: float) -> None:
        """Draw ``state``: the field moves towards it over one tick, the panels follow."""
        me = self.link.participant
        with contextlib.suppress(NoMatches):  # a state that arrives as the app closes
            self.query_one(DreamField).show(state, tick_hz)
            self.query_one(ScenePanel).show(state)
            self.query_one(PeoplePanel).show(state.participants, me, people_count(state))
            self.query_one(DevicesPanel).show(state.participants, me)
            self.query_one(WhispersPanel).show(state.whispers)

    def _on_status(self, status: str) -> None:
        self.statuses.append(status)
        del self.statuses[:-50]
        with contextlib.suppress(NoMatches):  # news that arrives as the app closes
            self.query_one("#link", Static).update(Text(status))

    def _on_joined(self, dream: DreamClient, fresh: bool) -> None:
        role = self.link.role
        self.sub_title = f"{dream.name} · {dream.participant} · {role} · {dream.session}"
        self.show_state(dream.state, dream.tick_hz)

    # --- what the user asks for ------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.value = ""
        try:
            command = parse(event.value, self.link.role)
        except CommandError as error:
            self.note(f"! {error}", error=True)
            return
        match command:
            case None:
                return
            case Quit():
                self.exit()
            case ShowHelp():
                self.action_help()
            case ShowMe():
                session = split_url(self.link.url)[1]
                link = self.link
                self.note(about_me(link.name, link.participant, session, link.resume_token))
            case SetFeeling(feeling=feeling):
                self._feel(feeling)
            case _:
                self.send(command)

    def on_host_panel_requested(self, event: HostPanel.Requested) -> None:
        self.query_one("#command", Input).focus()
        if event.action != "remove":
            self.send(HostCommand(event.action))
            return
        chosen = self.query_one(PeoplePanel).selected()
        if chosen is None or chosen == self.link.participant:
            self.note("! highlight someone in the list first (click, or arrows)", error=True)
            return
        self.send(HostCommand("remove", chosen))

    def send(self, command: NetworkCommand) -> None:
        """Carry out ``command`` in the background; its outcome or refusal shows as a note."""
        self.run_worker(self._send(command), name=f"send-{type(command).__name__}", group="send")

    async def _send(self, command: NetworkCommand) -> None:
        dream = self.link.dream
        if dream is None:
            self.note("! not connected right now: try again once reconnected", error=True)
            return
        try:
            outcome = await carry_out(dream, command, self.feeling)
        except (DreamClientError, TimeoutError) as error:
            self.note(f"! {error or 'no answer from the server'}", error=True)
            return
        if outcome.paired is not None:
            self.query_one(DevicesPanel).add(outcome.paired)
        self.note(outcome.note)

    def note(self, text: str, *, error: bool = False) -> None:
        """One line under the status: what came of the last command."""
        self.notes.append(text)
        del self.notes[:-50]
        widget = self.query_one("#note", Static)
        widget.update(Text(text))
        widget.set_class(error, "error")

    def _feel(self, feeling: Feeling) -> None:
        self.feeling = feeling
        self.note(f"your next motifs feel {feeling.describe()}")

    # --- keys ------------------------------------------------------------------------------

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.link.role))

    def action_toggle_panels(self) -> None:
        """Hide the side panels for the whole width to the dreamscape, or bring them back."""
        self.query_one("#side").toggle_class("-hidden")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The keys of commands the role does not have are left out of the footer."""
        if action not in KEYED:
            return True
        typed = str(parameters[0]) if parameters else KEYED[action]
        return has_command(self.link.role, typed.strip().lstrip("/") or KEYED[action])

    def action_clear(self) -> None:
        self.action_prefill("")

    def action_prefill(self, text: str) -> None:
        field = self.query_one("#command", Input)
        field.value = text
        field.cursor_position = len(text)
        field.focus()

    def action_next_feeling(self) -> None:
        index = FEELINGS.index(self.feeling) if self.feeling in FEELINGS else -1
        self._feel(FEELINGS[(index + 1) % len(FEELINGS)])


PLACEHOLDERS: Final[dict[Role, str]] = {
    "dreamer": "a motif ('moon 0.8'), '/w words', '/feel calm', '/share 0.5' … (F1 help)",
    "waker": "a motif ('moon 0.8'), '/w words', '/feel calm', '/share 0.5' … (F1 help)",
    "watcher": "watching: '/me', '/quit' (F1 help)",
    "host": "/harmonize, /advance, /remove p3 … (F1 help)",
}
KEYED: Final[dict[str, str]] = {"prefill": "", "next_feeling": "feel"}  # action: its command
