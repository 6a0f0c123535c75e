"""The side panels' text, built without Textual running."""

from __future__ import annotations

from dreamcommons.client.tui.panels import devices_text, participant_text, whispers_text
from dreamcommons.contracts.protocol import Paired, ParticipantView, WhisperView


def test_a_participant_line_has_role_stage_devices_and_you() -> None:
    lyra = ParticipantView(id="p1", name="Lyra", role="dreamer", devices=2, stage="rem")
    line = participant_text(lyra, me="p1").plain
    assert line == "● Lyra p1  dreamer  ✦ REM  ⌁2 devices  (you)"


def test_ones_own_pinned_row_says_you_by_the_name() -> None:
    lyra = ParticipantView(id="p1", name="Lyra", role="dreamer", stage="rem")
    assert participant_text(lyra, me="p1", pinned=True).plain == "● Lyra (you) p1  dreamer  ✦ REM"


def test_no_stage_is_shown_for_one_who_does_not_share_it() -> None:
    kai = ParticipantView(id="p2", name="Kai", role="waker", present=False)
    assert participant_text(kai, me="p1").plain == "○ Kai p2  waker  away"


def test_typed_text_shows_as_typed() -> None:
    whisper = WhisperView(participant="p2", name="[b]Zara[/b]", text="<i>hi</i> [red]x", t=1.0)
    assert whispers_text([whisper]).plain == "[b]Zara[/b]: <i>hi</i> [red]x"


def test_devices_list_what_was_paired_and_what_the_server_counts() -> None:
    pod = Paired(cid=1, device="pod-lyra", kind="pod", model="FlexiSleep")
    assert (
        devices_text([pod], 1).plain == "⌁ pod-lyra  pod · FlexiSleep\n1 device shaping your dream"
    )
    assert devices_text([], 0).plain == "no device paired: '/pair CODE' (F6)"
