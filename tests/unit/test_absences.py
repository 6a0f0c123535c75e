"""Who left when: away for a while, then hidden but resumable, then forgotten; all bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dreamcommons.server.absences import AbsencePolicy, Absences, Moved


def test_away_then_hidden_then_forgotten_as_time_passes() -> None:
    absences = Absences(AbsencePolicy(away_shown_s=10.0, resume_window_s=100.0))
    assert absences.left("p1", 0.0) == Moved()
    assert absences.expire(9.0) == Moved()
    assert absences.expire(10.0) == Moved(hidden=("p1",))
    assert absences.is_hidden("p1")
    assert absences.expire(99.0) == Moved()
    assert absences.expire(100.0) == Moved(forgotten=("p1",))
    assert absences.away == absences.hidden == 0


def test_the_longest_away_are_hidden_first_and_the_oldest_hidden_forgotten_first() -> None:
    absences = Absences(AbsencePolicy(max_away_shown=2, max_resumable=1))
    absences.left("p1", 1.0)
    absences.left("p2", 2.0)
    assert absences.left("p3", 3.0) == Moved(hidden=("p1",))
    assert absences.left("p4", 4.0) == Moved(hidden=("p2",), forgotten=("p1",))


def test_a_member_who_returns_is_neither_away_nor_hidden() -> None:
    absences = Absences(AbsencePolicy(max_away_shown=0))
    absences.left("p1", 0.0)
    assert absences.returned("p1") is True
    assert absences.returned("p1") is False
    assert absences.away == absences.hidden == 0


def test_room_is_made_by_hiding_the_away_and_refused_when_all_are_here() -> None:
    absences = Absences(AbsencePolicy(max_members=3))
    absences.left("p1", 0.0)
    assert absences.make_room(listed=2) == ()
    assert absences.make_room(listed=3) == ("p1",)
    assert absences.make_room(listed=3) is None


@given(st.lists(st.tuples(st.integers(0, 30), st.floats(0.0, 1.0)), max_size=200))
def test_the_bounds_always_hold(departures: list[tuple[int, float]]) -> None:
    policy = AbsencePolicy(max_away_shown=5, max_resumable=7, away_shown_s=0.5)
    absences = Absences(policy)
    now = 0.0
    for pid, step in departures:
        now += step
        absences.left(f"p{pid}", now)
        absences.expire(now)
        assert absences.away <= policy.max_away_shown
        assert absences.hidden <= policy.max_resumable
