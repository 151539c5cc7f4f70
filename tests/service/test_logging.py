"""configure_logging: one format for structlog and stdlib loggers, context included."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from service.logging import configure_logging
from service.settings import Settings

SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Leave the root logger and structlog as they were for the tests that follow."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    transitions_level = logging.getLogger("transitions").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("transitions").setLevel(transitions_level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def settings(log_format: str, log_level: str = "INFO") -> Settings:
    return Settings(log_format=log_format, log_level=log_level, jwt_secret=SECRET)


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_lines_for_structlog_and_stdlib_with_context(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Both kinds of logger give one JSON object per line, with the bound context."""
    configure_logging(settings("json"))
    with structlog.contextvars.bound_contextvars(request_id="r-1", project_code="P-7"):
        structlog.get_logger("perfbudget.test").info("project_filed", amount=10)
        logging.getLogger("temporalio.worker").warning("poll %s failed", "activity")
    first, second = json_lines(capsys.readouterr().err)
    assert first["event"] == "project_filed"
    assert first["amount"] == 10
    assert first["level"] == "info"
    assert second["event"] == "poll activity failed"
    assert second["logger"] == "temporalio.worker"
    assert second["level"] == "warning"
    for line in (first, second):
        assert line["request_id"] == "r-1"
        assert line["project_code"] == "P-7"
        assert "timestamp" in line


def test_console_lines_are_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    """The console format is for people: readable text with the event and its fields."""
    configure_logging(settings("console"))
    structlog.get_logger().info("api_started", port=8000)
    err = capsys.readouterr().err
    assert "api_started" in err
    assert "port=8000" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err)


def test_auto_is_json_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """Under a process manager or in a container (no tty), auto means JSON."""
    configure_logging(settings("auto"))
    structlog.get_logger().info("hello")
    assert json_lines(capsys.readouterr().err)[0]["event"] == "hello"


def test_configuring_twice_does_not_double_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """A second call replaces the handler instead of adding one."""
    configure_logging(settings("json"))
    configure_logging(settings("json"))
    logging.getLogger("uvicorn.error").info("started")
    assert len(json_lines(capsys.readouterr().err)) == 1


def test_levels(capsys: pytest.CaptureFixture[str]) -> None:
    """The configured level filters both kinds; transitions' chatter stays below WARNING."""
    configure_logging(settings("json", "WARNING"))
    structlog.get_logger().info("dropped")
    logging.getLogger("transitions.core").info("Entered state executing")
    structlog.get_logger().warning("kept")
    assert [line["event"] for line in json_lines(capsys.readouterr().err)] == ["kept"]
    configure_logging(settings("json", "DEBUG"))
    logging.getLogger("transitions.core").info("Entered state executing")
    assert capsys.readouterr().err == ""
