"""What has been published (绩效信息公开): the fiscal years whose evaluations are public.

Approved goals of major projects are public with their budget; a year's self-evaluations,
finance's results and the notices of fair and poor results become public when the zone's
fiscal year publishes them (`FiscalPhase.DISCLOSURE`, 15 July of the next year by default),
with the final accounts.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class DisclosureRelease(SQLModel, table=True):
    __tablename__ = "disclosure_release"

    fiscal_year: int = Field(primary_key=True)
    released_at: datetime
