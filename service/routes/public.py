"""Public, read-only disclosure (绩效信息公开): no sign-in, JSON and plain HTML pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from service import disclosure, public_pages
from service.deps import SessionDep
from service.problems import Problem

router = APIRouter(tags=["public"])

Year = Annotated[int | None, Query(ge=2000, le=2200)]
DepartmentCode = Annotated[str | None, Query(min_length=1, max_length=32)]
Page = Annotated[int, Query(ge=1, le=100_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]


@router.get("/api/public/disclosures")
def list_disclosures(
    session: SessionDep,
    year: Year = None,
    department: DepartmentCode = None,
    kind: disclosure.DisclosureKind | None = None,
    page: Page = 1,
    page_size: PageSize = 50,
) -> disclosure.DisclosurePage:
    """What is disclosed: approved goals of major projects with their budget, and — once a
    year is published — reviewed self-evaluations, finance's results and their application,
    and the notices of fair and poor results. No personal data, no drafts."""
    return disclosure.list_disclosures(
        session=session,
        year=year,
        department=department,
        kind=kind,
        page=page,
        page_size=page_size,
    )


# The page's form sends empty fields for "any": they are read as text, then checked.
FormField = Annotated[str, Query(max_length=32)]


@router.get("/public/", response_class=HTMLResponse)
def public_index(
    session: SessionDep, year: FormField = "", kind: FormField = "", page: Page = 1
) -> str:
    """The disclosure pages: every disclosed item, by year and kind (no script needed)."""
    chosen_year = _form_year(year)
    chosen_kind = _form_kind(kind)
    found = disclosure.list_disclosures(
        session=session, year=chosen_year, kind=chosen_kind, page=page
    )
    return public_pages.index_page(found, year=chosen_year, kind=chosen_kind)


def _bad_field(field: str, reason: str) -> Problem:
    return Problem(
        status=422,
        title="Invalid query",
        detail=f"{field}: {reason}",
        errors=[{"field": f"query.{field}", "reason": reason}],
    )


def _form_year(text: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdecimal() or not 2000 <= int(text) <= 2200:
        raise _bad_field("year", "a year between 2000 and 2200, or empty")
    return int(text)


def _form_kind(text: str) -> disclosure.DisclosureKind | None:
    if not text:
        return None
    try:
        return disclosure.DisclosureKind(text)
    except ValueError:
        kinds = ", ".join(k.value for k in disclosure.DisclosureKind)
        raise _bad_field("kind", f"one of {kinds}, or empty") from None


@router.get("/public/projects/{code}", response_class=HTMLResponse)
def public_project(
    session: SessionDep, code: Annotated[str, Path(min_length=1, max_length=32)]
) -> str:
    """What is disclosed of one project; a page (saying there is nothing) for any code, so the
    pages do not reveal which projects exist but are not public."""
    found = disclosure.list_disclosures(session=session, project=code, page_size=1000)
    return public_pages.project_page(code, found.items)
