"""A commit writes its rows in the order they were recorded, however they are grouped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dreamcommons.server.journal import Journal, token_hash
from dreamcommons.server.journal.batch import MEMBER_LEFT, UPSERT_MEMBER, UPSERT_PAIRING, _runs

TOKEN = token_hash("a-resume-token-of-thirty-two-chars")


def test_runs_keep_the_call_order_and_join_only_neighbours() -> None:
    rows = [
        (UPSERT_MEMBER, ("s", "p1")),
        (UPSERT_MEMBER, ("s", "p2")),
        (MEMBER_LEFT, ("s", "p1")),
        (UPSERT_MEMBER, ("s", "p1")),
        (UPSERT_PAIRING, ("s", "pod", "p1")),
    ]
    runs = _runs(rows)
    assert [sql for sql, _ in runs] == [UPSERT_MEMBER, MEMBER_LEFT, UPSERT_MEMBER, UPSERT_PAIRING]
    assert [(sql, p) for sql, params in runs for p in params] == rows


async def test_a_member_who_left_and_came_back_in_one_commit_is_in(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    async with Journal(path) as journal:
        journal.record_session("commons", "sleep-commons")
        journal.record_member("commons", "p1", "Lyra", "dreamer", TOKEN)
        journal.record_member("commons", "p2", "Kai", "dreamer", TOKEN)
        journal.record_member_left("commons", "p1")
        journal.record_member_left("commons", "p2")
        journal.record_member("commons", "p1", "Lyra", "dreamer", TOKEN)
        await journal.commit()
    with sqlite3.connect(path) as conn:
        left = dict(conn.execute("SELECT pid, left FROM members ORDER BY pid").fetchall())
    assert left == {"p1": 0, "p2": 1}
