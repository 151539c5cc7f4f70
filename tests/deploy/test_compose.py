"""deploy/compose.yaml against the Compose Specification's JSON schema, and what it wires.

The schema is vendored (tests/deploy/schemas/compose-spec.json, from the compose-spec project,
Apache-2.0) so that the check needs no network and no Docker.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from service.cli import _parser
from service.settings import Settings
from tests.deploy.conftest import DEPLOY

SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"
PERFBUDGET_SERVICES = ("migrate", "setup", "api", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_refuses_a_broken_file(compose: dict[str, Any]) -> None:
    """The check can fail: a misspelt key is an error (the schema forbids unknown keys)."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = {**compose, "services": {**compose["services"], "api": {"imagee": "x"}}}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_the_whole_stack_is_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgresql", "temporal", "temporal-ui", *PERFBUDGET_SERVICES} <= set(services)
    # Temporal persists in PostgreSQL, not in memory.
    assert services["temporal"]["environment"]["DB"].startswith("postgres")
    assert services["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_dependencies_exist_and_order_the_start(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
    for name in ("api", "worker"):
        conditions = {d: c["condition"] for d, c in services[name]["depends_on"].items()}
        assert conditions == {
            "migrate": "service_completed_successfully",
            "setup": "service_completed_successfully",
        }


def test_perfbudget_services_run_real_commands_with_real_settings(
    compose: dict[str, Any],
) -> None:
    parser = _parser()
    settings = {f"PERFBUDGET_{name.upper()}" for name in Settings.model_fields}
    images = set()
    for name in PERFBUDGET_SERVICES:
        service = compose["services"][name]
        images.add(service["image"])
        parser.parse_args(service["command"])
        unknown = {v for v in service["environment"] if v.startswith("PERFBUDGET_")} - settings
        assert not unknown, f"{name} sets variables no setting reads: {unknown}"
        assert service["environment"]["PERFBUDGET_ENVIRONMENT"] == "production"
        # The JWT secret must come from the operator: no default in the file.
        assert re.fullmatch(
            r"\$\{PERFBUDGET_JWT_SECRET:\?.+\}", service["environment"]["PERFBUDGET_JWT_SECRET"]
        )
    assert len(images) == 1, "one image for every role"


def test_worker_exposes_its_metrics_and_stops_gracefully(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    bind = worker["environment"]["PERFBUDGET_TEMPORAL_METRICS_BIND"]
    port = bind.rsplit(":", 1)[1]
    assert f"{port}:{port}" in worker["ports"]
    assert f":{port}/metrics" in " ".join(worker["healthcheck"]["test"])
    grace = int(worker["stop_grace_period"].removesuffix("s"))
    assert grace > Settings().worker_graceful_shutdown_seconds
