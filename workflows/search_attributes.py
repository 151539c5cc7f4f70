"""Custom search attributes: what an operator filters on in the Temporal UI.

One list, used by the embedded dev server's start flags, by the test environments and by the
production setup command, so the three never disagree.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PROJECT_CODE = SearchAttributeKey.for_keyword("ProjectCode")
DEPARTMENT = SearchAttributeKey.for_keyword("Department")
# Keyword list: the project-level state plus the state of every open fiscal-year cycle, so that
# `LifecycleState="executing"` finds projects with any year executing.
LIFECYCLE_STATE = SearchAttributeKey.for_keyword_list("LifecycleState")
FISCAL_YEAR = SearchAttributeKey.for_int("FiscalYear")
GRADE = SearchAttributeKey.for_keyword("Grade")
WARNING_LEVEL = SearchAttributeKey.for_keyword("WarningLevel")
BUDGET_TYPE = SearchAttributeKey.for_keyword("BudgetType")
OVERDUE = SearchAttributeKey.for_bool("Overdue")

ALL_KEYS: tuple[SearchAttributeKey, ...] = (  # type: ignore[type-arg]
    PROJECT_CODE,
    DEPARTMENT,
    LIFECYCLE_STATE,
    FISCAL_YEAR,
    GRADE,
    WARNING_LEVEL,
    BUDGET_TYPE,
    OVERDUE,
)

# `temporal server start-dev --search-attribute NAME=TYPE` spells the types like this.
_CLI_TYPE = {
    "KEYWORD": "Keyword",
    "KEYWORD_LIST": "KeywordList",
    "INT": "Int",
    "BOOL": "Bool",
}


def dev_server_flags() -> list[str]:
    """The `--search-attribute` flags that register every attribute on the embedded dev server."""
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type.name]}"]
    return flags
