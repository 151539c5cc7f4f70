"""The README's configuration table lists exactly the settings, with their defaults."""

from __future__ import annotations

import re
from pathlib import Path

from service.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(PERFBUDGET_[A-Z0-9_]+)` \| ([^|]*) \|", re.MULTILINE)


def _table() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = ROW.findall(section)
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a variable is listed twice"
    return {name: default.strip() for name, default in rows}


def test_every_setting_has_exactly_one_row() -> None:
    expected = {f"PERFBUDGET_{name.upper()}" for name in Settings.model_fields}
    listed = set(_table())
    assert listed - expected == set(), "rows in the README for settings that do not exist"
    assert expected - listed == set(), "settings missing from the README's configuration table"


def test_plain_defaults_match() -> None:
    """Scalar defaults (not secrets, not paths) are written in the row as they are in code."""
    table = _table()
    for name, field in Settings.model_fields.items():
        default = field.default
        if not field.repr or isinstance(default, Path) or default is None:
            continue
        if isinstance(default, bool):
            shown = str(default).lower()
        elif isinstance(default, str | int | float):
            shown = str(default)
        else:
            continue
        assert f"`{shown}`" in table[f"PERFBUDGET_{name.upper()}"], name
