"""One log format for everything the process writes.

structlog is the front end for our code; stdlib logging is the single sink. Records from stdlib
loggers (temporalio, uvicorn, `workflow.logger`, Temporal Core forwarded by
`service.temporal_client`) pass through the same `ProcessorFormatter` as structlog's own events,
so a production log is JSON lines only and a terminal shows one readable style.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, TextIO

import structlog

if TYPE_CHECKING:
    from structlog.typing import Processor

    from service.settings import Settings

# Name of the handler we install on the root logger, so a second call replaces it instead of
# doubling every line.
_HANDLER_NAME = "perfbudget"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of each record, like logging's last resort.

    A handler bound to the stream object of the moment would keep writing to a replaced (and
    maybe closed) stream; pytest, for one, swaps sys.stderr for each test that captures it.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        # StreamHandler.__init__ assigns it; the property above always wins.
        pass


def _renders_json(settings: Settings) -> bool:
    if settings.log_format == "auto":
        # A human at a terminal wants readable lines; anything else (files, journald, a log
        # shipper in a container) wants one JSON object per line.
        return not sys.stderr.isatty()
    return settings.log_format == "json"


def configure_logging(settings: Settings) -> None:
    """Configure structlog and stdlib logging; safe to call more than once."""
    json = _renders_json(settings)

    # Run for structlog events and for stdlib records alike.
    shared: list[Processor] = [
        # request_id, actor, project_code, workflow_id are bound with bound_contextvars elsewhere.
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    # temporalio puts workflow/activity identity in `extra`; keep it as fields.
    foreign_only: list[Processor] = [
        structlog.stdlib.ExtraAdder(allow=("temporal_workflow", "temporal_activity")),
    ]

    # Tracebacks without each frame's local variables (structlog shows them by default): a
    # frame of the sign-in holds the password, one of the token code the signing secret, and a
    # worker's holds whole workflow payloads (tens of kilobytes per line).
    final: list[Processor]
    if json:
        # Tracebacks as structured data, so a log search can match on exception type.
        tracebacks = structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        final = [
            structlog.processors.ExceptionRenderer(tracebacks),
            structlog.processors.JSONRenderer(),
        ]
    else:
        final = [
            structlog.dev.ConsoleRenderer(
                colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        ]

    structlog.configure(
        processors=[
            # First, so a disabled debug event costs one level check.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a later configure_logging (tests, the CLI after parsing arguments) must
        # reach loggers that modules created at import time.
        cache_logger_on_first_use=False,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, *foreign_only],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(settings.log_level)

    # uvicorn installs its own handlers when given a log config; we start it without one, and
    # clear any left so its lines reach the root handler exactly once.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # transitions logs every state change at INFO; a workflow replays its history on every
    # cache miss, so those lines would repeat without meaning anything new.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    # Alembic narrates its plugins and contexts at INFO on every check; `service.schema` logs
    # the one line that matters (which revisions an upgrade applied).
    logging.getLogger("alembic").setLevel(logging.WARNING)
