"""`entries_after`: what an action, a projection and the escalation counter take from a history."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from models.project_state import HistoryEntry, entries_after
from models.vocabulary import Role


def _history(seqs: list[int]) -> list[HistoryEntry]:
    at = datetime(2027, 1, 1, tzinfo=UTC)
    return [
        HistoryEntry(
            seq=seq,
            at=at,
            actor="clerk",
            role=Role.DEPARTMENT,
            action="submit",
            fiscal_year=None,
            from_state="filed",
            to_state="submitted",
        )
        for seq in seqs
    ]


@given(
    seqs=st.lists(st.integers(min_value=1, max_value=400), unique=True).map(sorted),
    after=st.integers(min_value=-1, max_value=401),
)
def test_the_entries_after_a_seq_are_those_a_full_scan_finds(seqs: list[int], after: int) -> None:
    history = _history(seqs)
    assert entries_after(history, after) == [e for e in history if e.seq > after]


def test_an_action_takes_only_its_own_entries_from_a_long_history() -> None:
    history = _history(list(range(1, 301)))
    assert [e.seq for e in entries_after(history, 298)] == [299, 300]
    assert entries_after(history, 300) == []
    assert entries_after([], 0) == []
