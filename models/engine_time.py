"""Business time: the zone's calendar day and the start of a fiscal year, from a UTC instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from models.rules import Rules


def zone(rules: Rules) -> timezone:
    return timezone(timedelta(minutes=rules.utc_offset_minutes))


def business_today(now: datetime, rules: Rules) -> date:
    """The calendar day in the zone's business time zone (China Standard Time by default)."""
    return now.astimezone(zone(rules)).date()


def start_of_year(year: int, rules: Rules) -> datetime:
    """Local midnight of 1 January, in UTC: when a fiscal year begins (and the previous ends)."""
    return datetime(year, 1, 1, tzinfo=zone(rules)).astimezone(UTC)
