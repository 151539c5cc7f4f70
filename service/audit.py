"""The tamper-evident audit trail: a hash chain over each project's history rows.

Every `project_history` row carries `hash` = SHA-256 of a canonical JSON of its content (code,
seq, `at` in UTC, actor, role, action, fiscal year, from, to, detail) and `prev_hash`, the
`hash` of the row at seq - 1; the row at seq 1 chains from a fixed genesis value per project
(SHA-256 of the canonical JSON `{"genesis": code}`). `perfbudget audit verify` recomputes the
chains from the stored rows and names the first broken link of each project.

Design choice: the chain is computed where the rows are written (`service.projection`), from
the history entries themselves, not carried in the workflow. The hash is a pure function of an
entry and its predecessor's hash, so every writer (the workflow's projection activity, its
local activity, the API's write-through, `projection rebuild`) derives the same value for the
same seq, and the insert-if-absent by (code, seq) stays idempotent whichever writer wins. A
batch chains from the stored row just before its first entry (genesis for seq 1), then
through its own entries. Should that predecessor be missing (a writer that holds only the
entries of one update, racing ahead of the projection activity), the writer inserts nothing
from there on: it cannot know the hash, and it would leave a hole in the chain. That never
loses a row, because the projection activity always carries every entry after the last seq it
projected, and by induction every row up to that seq is stored: its batch always chains. (The
alternative, a `hash` on `HistoryEntry` computed by `models.engine` in the workflow, would change
the workflow's state, its update results and every recorded replay history for the same
result, and entries of running workflows recorded before it would have no hash at all.)

What it protects against: rows altered, deleted, inserted or reordered in the application
database behind the service's back. The project row records the last seq projected, so a
removed last row or an extra row appended after it shows as well. It is a plain hash chain,
not a signature: someone who can write the database and recomputes every later hash (and the
project row's seq) is not caught by it; the workflows' histories in Temporal remain the
independent record, and `perfbudget projection rebuild` restores the rows from them.

Between an action and its projection, the project row may briefly run ahead of the history
rows; `verify` then reports the missing seqs, and a second run after the projection has caught
up does not.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlmodel import Session, col

from models.project_state import HistoryEntry
from models.tables import HistoryRow, ProjectRow

BreakKind = Literal["altered", "removed", "inserted", "swapped"]


class Record(NamedTuple):
    """One history row's audited content and its chain hashes, as stored or about to be."""

    code: str
    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    fiscal_year: int | None
    from_state: str
    to_state: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def genesis(code: str) -> str:
    """The `prev_hash` of a project's first history row."""
    return _sha256({"genesis": code})


def content_hash(record: Record, *, prev_hash: str, seq: int | None = None) -> str:
    """SHA-256 of `record`'s content (as at `seq` when given) chained to `prev_hash`."""
    return _sha256(
        {
            "code": record.code,
            "seq": record.seq if seq is None else seq,
            "at": _utc_iso(record.at),
            "actor": record.actor,
            "role": record.role,
            "action": record.action,
            "fiscal_year": record.fiscal_year,
            "from": record.from_state,
            "to": record.to_state,
            "detail": record.detail,
            "prev": prev_hash,
        }
    )


def entry_hash(code: str, entry: HistoryEntry, prev_hash: str) -> str:
    """The `hash` of `entry`'s row, given the hash of the row before it."""
    return content_hash(_unhashed(code, entry), prev_hash=prev_hash)


def chain(
    code: str, entries: Iterable[HistoryEntry], stored_hash: Callable[[int], str | None]
) -> list[Record]:
    """The rows of `entries` (in seq order, once each) with their chain hashes.

    A run of entries chains from the stored row just before it (`stored_hash(seq)`, genesis
    for seq 1), then through its own entries. It stops before the first entry whose
    predecessor is neither in `entries` nor stored: that hash cannot be known yet.
    """
    rows: list[Record] = []
    for entry in sorted({e.seq: e for e in entries}.values(), key=lambda e: e.seq):
        if rows and rows[-1].seq == entry.seq - 1:
            prev: str | None = rows[-1].hash
        else:
            prev = genesis(code) if entry.seq == 1 else stored_hash(entry.seq - 1)
        if prev is None:
            break
        unhashed = _unhashed(code, entry)
        rows.append(unhashed._replace(prev_hash=prev, hash=content_hash(unhashed, prev_hash=prev)))
    return rows


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """The first broken link of one project's chain."""

    code: str
    seq: int
    kind: BreakKind
    message: str

    def __str__(self) -> str:
        return f"{self.code} #{self.seq}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class AuditReport:
    projects: int
    entries: int
    breaks: list[Break]

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_chain(code: str, rows: Sequence[Record], project_seq: int | None) -> Break | None:
    """The first broken link of `code`'s stored rows (in seq order), or None if all hold.

    `project_seq` is the seq the project row records as projected (None: no project row).
    """
    expected_prev, expected_seq = genesis(code), 1
    by_seq = {r.seq: r for r in rows}
    top = max([project_seq or 0, *by_seq])
    for row in rows:
        if project_seq is not None and row.seq > project_seq:
            return Break(
                code,
                row.seq,
                "inserted",
                f"an extra row was inserted: the project's last projected seq is #{project_seq}",
            )
        if row.seq > expected_seq:
            return Break(code, expected_seq, "removed", _missing(expected_seq, row.seq - 1))
        if row.hash != content_hash(row, prev_hash=row.prev_hash):
            return _mismatch(code, row, by_seq, top)
        if row.prev_hash != expected_prev:
            return Break(
                code,
                row.seq,
                "altered",
                f"the row does not follow #{row.seq - 1}: #{row.seq - 1} was altered and its "
                f"hash recomputed, or #{row.seq} was replaced by a forged row",
            )
        expected_prev, expected_seq = row.hash, row.seq + 1
    if project_seq is not None and project_seq >= expected_seq:
        return Break(code, expected_seq, "removed", _missing(expected_seq, project_seq))
    return None


def verify(session: Session, *, code: str | None = None) -> AuditReport:
    """Verify the chain of every project (or of `code`), streaming the rows in seq order."""
    projects_query = select(col(ProjectRow.code), col(ProjectRow.seq))
    rows_query = select(
        col(HistoryRow.code),
        col(HistoryRow.seq),
        col(HistoryRow.at),
        col(HistoryRow.actor),
        col(HistoryRow.role),
        col(HistoryRow.action),
        col(HistoryRow.fiscal_year),
        col(HistoryRow.from_state),
        col(HistoryRow.to_state),
        col(HistoryRow.detail),
        col(HistoryRow.prev_hash),
        col(HistoryRow.hash),
    ).order_by(col(HistoryRow.code), col(HistoryRow.seq))
    if code is not None:
        projects_query = projects_query.where(col(ProjectRow.code) == code)
        rows_query = rows_query.where(col(HistoryRow.code) == code)
    project_seqs: dict[str, int] = dict(session.execute(projects_query).all())
    stored = (
        Record(*values) for values in session.execute(rows_query.execution_options(yield_per=2000))
    )
    return verify_chains(stored, project_seqs)


def verify_chains(records: Iterable[Record], last_seqs: Mapping[str, int]) -> AuditReport:
    """The first broken link of every chain: `records` ordered by chain key and seq, and the
    last projected seq of each chain's row (a row may have no history at all)."""
    breaks: list[Break] = []
    seen: set[str] = set()
    entries = 0
    for key, group in itertools.groupby(records, key=lambda r: r.code):
        rows = list(group)
        seen.add(key)
        entries += len(rows)
        broken = verify_chain(key, rows, last_seqs.get(key))
        if broken is not None:
            breaks.append(broken)
    for key in sorted(last_seqs.keys() - seen):  # a row without any history
        broken = verify_chain(key, [], last_seqs[key])
        if broken is not None:
            breaks.append(broken)
    return AuditReport(projects=len(seen | last_seqs.keys()), entries=entries, breaks=breaks)


# --- helpers ---------------------------------------------------------------------------------


def _unhashed(code: str, entry: HistoryEntry) -> Record:
    return Record(
        code=code,
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        role=entry.role.value,
        action=entry.action,
        fiscal_year=entry.fiscal_year,
        from_state=entry.from_state,
        to_state=entry.to_state,
        detail=entry.detail,
        prev_hash="",
        hash="",
    )


def _sha256(value: dict[str, Any]) -> str:
    # Canonical: the JSON the database stores and gives back (to_jsonable_python turns what
    # the JSON column could not hold, e.g. a Decimal, into what Temporal's converter sends),
    # keys sorted, no spaces, UTF-8.
    text = json.dumps(
        to_jsonable_python(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _utc_iso(at: datetime) -> str:
    # The tables keep UTC (SQLModel's UTCDateTime); a naive value is taken as UTC.
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.isoformat(timespec="microseconds")


def _missing(first: int, last: int) -> str:
    seqs = f"#{first}" if first == last else f"#{first}–#{last}"
    return f"removed: {seqs} missing from the chain"


def _mismatch(code: str, row: Record, by_seq: dict[int, Record], top: int) -> Break:
    """A row whose content does not give its hash: altered, or a genuine row moved."""
    origin = _origin(row, top)
    if origin is None:
        return Break(code, row.seq, "altered", "the row's content does not match its hash")
    other = by_seq.get(origin)
    if other is not None and _origin(other, top) == row.seq:
        first, second = sorted((row.seq, origin))
        return Break(code, first, "swapped", f"rows #{first} and #{second} were swapped")
    if origin < row.seq:
        return Break(
            code,
            row.seq,
            "inserted",
            f"this is row #{origin} moved to #{row.seq}: "
            f"{row.seq - origin} row(s) were inserted before it",
        )
    return Break(
        code,
        row.seq,
        "removed",
        f"this is row #{origin} moved to #{row.seq}: "
        f"{origin - row.seq} row(s) before it were removed and the rest renumbered",
    )


def _origin(row: Record, top: int) -> int | None:
    """The seq at which `row`'s content gives its stored hash, when not its own seq."""
    candidates: Iterator[int] = (s for s in range(1, top + 2) if s != row.seq)
    for seq in candidates:
        if content_hash(row, prev_hash=row.prev_hash, seq=seq) == row.hash:
            return seq
    return None
