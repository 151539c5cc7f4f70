"""deploy/helm/perfbudget rendered by Helm's engine and validated against Kubernetes' schemas.

Rendering needs `helm-python-sdk` (Helm's Go SDK behind ctypes; `pip install -e '.[helm]'`);
the schemas come offline with `kubernetes-validate`. No cluster is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from service.cli import _parser
from service.settings import Settings
from tests.deploy.conftest import DEPLOY, require_module

CHART = DEPLOY / "helm" / "perfbudget"
# The oldest Kubernetes the chart declares (Chart.yaml kubeVersion) and the newest schemas.
KUBERNETES_VERSIONS = ("1.30", "1.37")
SECRETS = {
    "PERFBUDGET_DATABASE_URL": "postgresql+psycopg://perfbudget:pw@postgresql:5432/perfbudget",
    "PERFBUDGET_JWT_SECRET": "a-production-secret-of-at-least-32-characters",
}
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {"secrets": SECRETS},
    "existing secret, mTLS, fixed workers, Temporal Cloud setup": {
        "existingSecret": "perfbudget-managed",
        "temporalTls": {"secretName": "temporal-client-tls", "serverName": "temporal.internal"},
        "worker": {"autoscaling": {"enabled": False}, "replicas": 3},
        "setup": {"skipNamespace": True},
        "imagePullSecrets": [{"name": "registry"}],
    },
    "no migrations, no setup": {
        "secrets": {**SECRETS, "PERFBUDGET_METRICS_TOKEN": "scrape-token-0123456789"},
        "migrations": {"enabled": False},
        "setup": {"enabled": False},
    },
}


@pytest.fixture(scope="module")
def helm() -> Any:
    return require_module("helm_python", "`pip install -e '.[helm]'` (helm-python-sdk)")


def render(helm: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        files = chart.render(values, name="pb", namespace="budget", is_install=True)
    documents = []
    for name, text in files.items():
        if not name.endswith(".yaml"):
            continue
        documents += [doc for doc in yaml.safe_load_all(text) if doc]
    return documents


def _of_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents if doc["kind"] == kind]


def _containers(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec["containers"]


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_renders_valid_kubernetes_objects(helm: Any, values: dict[str, Any]) -> None:
    validate = require_module("kubernetes_validate", "`make install` (kubernetes-validate)")
    documents = render(helm, values)
    assert documents
    for document in documents:
        for version in KUBERNETES_VERSIONS:
            validate.validate(document, version, strict=True)  # raises with the field path


def test_helm_lint_is_clean(helm: Any) -> None:
    report = helm.lint(str(CHART), {"secrets": SECRETS}, strict=True)
    # Helm's severities: 1 info ("icon is recommended"), 2 warning, 4 error.
    findings = [m for m in report["messages"] if m["severity"] > 1]
    assert report["errors"] == [], report
    assert findings == [], report


def test_secrets_are_required_unless_an_existing_secret_is_named(helm: Any) -> None:
    with pytest.raises(helm.HelmError, match="PERFBUDGET_JWT_SECRET"):
        render(helm, {"secrets": {"PERFBUDGET_DATABASE_URL": "postgresql://x"}})
    assert not _of_kind(render(helm, {"existingSecret": "mine"}), "Secret")


def test_workloads_have_probes_resources_and_no_root(helm: Any) -> None:
    documents = render(helm, {"secrets": SECRETS})
    deployments = {d["metadata"]["name"]: d for d in _of_kind(documents, "Deployment")}
    assert set(deployments) == {"pb-perfbudget-api", "pb-perfbudget-worker"}
    for deployment in deployments.values():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in _containers(pod):
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) & set(resources["limits"])
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
        (main,) = pod["containers"]
        assert {"livenessProbe", "readinessProbe"} <= set(main)
    api = deployments["pb-perfbudget-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_migration_init_container_and_setup_hook_run_perfbudget_commands(helm: Any) -> None:
    documents = render(helm, {"secrets": SECRETS})
    parser = _parser()
    for deployment in _of_kind(documents, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        (init,) = pod["initContainers"]
        assert init["args"] == ["db", "upgrade"]
        for container in _containers(pod):
            parser.parse_args(container["args"])
    (job,) = _of_kind(documents, "Job")
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert set(hooks) == {"post-install", "post-upgrade"}
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["setup"]


def test_workers_scale_horizontally(helm: Any) -> None:
    documents = render(helm, {"secrets": SECRETS})
    (hpa,) = _of_kind(documents, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "pb-perfbudget-worker",
    }
    worker = next(
        d for d in _of_kind(documents, "Deployment") if d["metadata"]["name"].endswith("worker")
    )
    # The HPA owns the replica count; a fixed one would fight it on every upgrade.
    assert "replicas" not in worker["spec"]
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > Settings().worker_graceful_shutdown_seconds


def test_configuration_names_only_real_settings(helm: Any) -> None:
    known = {f"PERFBUDGET_{name.upper()}" for name in Settings.model_fields}
    for values in VALUE_SETS.values():
        documents = render(helm, values)
        (config,) = _of_kind(documents, "ConfigMap")
        names = set(config["data"])
        for secret in _of_kind(documents, "Secret"):
            names |= set(secret["stringData"])
        for deployment in _of_kind(documents, "Deployment"):
            for container in _containers(deployment["spec"]["template"]["spec"]):
                names |= {variable["name"] for variable in container.get("env", [])}
        assert names - known == set(), "variables that no setting reads (a typo?)"
        # What the worker's metrics port and probes rely on is really configured.
        assert config["data"]["PERFBUDGET_ENVIRONMENT"] == "production"


def test_mutual_tls_mounts_the_certificates_where_the_settings_point(helm: Any) -> None:
    values = VALUE_SETS["existing secret, mTLS, fixed workers, Temporal Cloud setup"]
    documents = render(helm, values)
    for deployment in _of_kind(documents, "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert volumes["temporal-tls"]["secret"]["secretName"] == "temporal-client-tls"
        for container in _containers(pod):
            env = {v["name"]: v.get("value") for v in container.get("env", [])}
            mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
            assert env["PERFBUDGET_TEMPORAL_TLS_CLIENT_CERT"].startswith(mounts["temporal-tls"])
            assert env["PERFBUDGET_TEMPORAL_TLS_SERVER_NAME"] == "temporal.internal"
    (job,) = _of_kind(documents, "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["setup", "--skip-namespace"]
