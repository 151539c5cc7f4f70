"""deploy/Dockerfile, read without a Docker engine: stages, user, entry point, health check."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass

import pytest

from service.cli import _parser
from tests.deploy.conftest import DEPLOY, ROOT

DOCKERFILE = DEPLOY / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    stage: int  # index of the FROM it belongs to


def _instructions() -> list[Instruction]:
    """The Dockerfile's instructions: comments dropped, continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    result = []
    stage = -1
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        result.append(Instruction(keyword, arguments.strip(), stage))
    return result


def _exec_form(arguments: str) -> list[str]:
    """A JSON-array (exec form) argument; a shell-form one fails the test."""
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError:
        pytest.fail(f"not in exec form (a JSON array): {arguments}")
    assert isinstance(parsed, list), arguments
    assert all(isinstance(part, str) for part in parsed), arguments
    return parsed


def _final(keyword: str) -> list[Instruction]:
    instructions = _instructions()
    last = instructions[-1].stage
    return [i for i in instructions if i.keyword == keyword and i.stage == last]


def test_multi_stage_with_the_runtime_copying_only_the_build_result() -> None:
    froms = [i for i in _instructions() if i.keyword == "FROM"]
    assert len(froms) >= 2
    names = [re.search(r"\bAS\s+(\S+)", i.arguments, re.IGNORECASE) for i in froms]
    assert names[0] is not None
    assert names[0].group(1) == "build"
    copies = _final("COPY")
    assert copies, "the runtime stage copies the built environment"
    assert all(c.arguments.startswith("--from=build ") for c in copies), (
        "the runtime stage copies nothing from the build context: sources and build tools "
        "stay in the build stage"
    )
    assert not any(i.keyword == "RUN" and "pip install" in i.arguments for i in _final("RUN"))


def test_runs_as_a_numeric_non_root_user() -> None:
    users = [i for i in _instructions() if i.keyword == "USER"]
    assert users, "no USER: the container would run as root"
    final = _final("USER")
    assert final
    assert final[-1] == users[-1]
    uid, _, gid = final[-1].arguments.partition(":")
    # Numeric, so that Kubernetes' runAsNonRoot can check it; the chart runs as the same uid.
    assert uid.isdigit()
    assert int(uid) != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)
    values = (DEPLOY / "helm" / "perfbudget" / "values.yaml").read_text(encoding="utf-8")
    assert f"runAsUser: {uid}" in values


def test_entrypoint_and_command_are_perfbudget_commands() -> None:
    (entrypoint,) = _final("ENTRYPOINT")
    (command,) = _final("CMD")
    program = _exec_form(entrypoint.arguments)
    assert program == ["perfbudget"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert "perfbudget" in scripts
    _parser().parse_args(_exec_form(command.arguments))  # exits (fails) if not a command


def test_healthcheck_probes_liveness_on_an_exposed_port() -> None:
    (check,) = _final("HEALTHCHECK")
    options, _, probe = check.arguments.partition("CMD ")
    assert "--interval=" in options
    assert "--timeout=" in options
    argv = _exec_form(probe)
    assert argv[:2] == ["python", "-c"]
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*?)'", argv[2])
    assert url is not None
    assert url.group(2) == "/livez"  # liveness, not readiness: a database outage is no restart
    exposed = {port for i in _final("EXPOSE") for port in i.arguments.split()}
    assert url.group(1) in exposed
    compile(argv[2], "<healthcheck>", "exec")  # the probe is valid Python


def test_every_package_and_file_the_build_copies_exists_and_is_in_the_context() -> None:
    build_copies = [
        i for i in _instructions() if i.keyword == "COPY" and not i.arguments.startswith("--")
    ]
    sources = [part for copy in build_copies for part in shlex.split(copy.arguments)[:-1]]
    for source in sources:
        assert (ROOT / source).exists(), source
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["packages"]["find"]["include"]
    # A package added to pyproject must be copied too, or the image lacks it.
    assert {p.rstrip("*") for p in packages} <= {s.rstrip("/").removeprefix("./") for s in sources}
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignored[ignored.index("*") :], "the context starts from nothing"
    for source in sources:
        assert f"!{source.rstrip('/')}" in ignored or f"!{source.rstrip('/')}/" in ignored, source


def test_the_runtime_has_a_font_the_pdf_reports_can_embed() -> None:
    """The runtime installs a Debian font package whose file the report code looks for."""
    from service.report import CJK_FONTS

    runs = " ".join(i.arguments for i in _final("RUN"))
    packages = {"fonts-wqy-microhei": "wqy-microhei", "fonts-noto-cjk": "NotoSansCJK"}
    installed = [name for package, name in packages.items() if package in runs]
    assert installed, "no CJK font package installed in the runtime stage"
    assert any(name in str(path) for path in CJK_FONTS for name in installed)
