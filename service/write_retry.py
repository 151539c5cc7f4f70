"""Committing a read-model write that concurrent writers may race: the projection activity, a
retried activity and the API's write-through can insert the same new row at once."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

ATTEMPTS = 3


def commit_retrying_conflicts(session: Session, write: Callable[[], bool]) -> bool:
    """Run `write` (which must read before it writes) and commit; return what it returned.

    An IntegrityError means another writer inserted the same new row first: roll back and run
    `write` again, which now finds that row. The last attempt's error is raised.
    """
    for attempt in range(ATTEMPTS):
        try:
            result = write()
            session.commit()
            return result
        except IntegrityError:
            session.rollback()
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
