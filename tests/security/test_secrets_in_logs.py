"""No password, bearer token or JWT secret ever reaches a log line, at any level."""

from __future__ import annotations

import logging

import pytest

from tests.api.conftest import PASSWORD
from tests.security.conftest import JWT_SECRET, LightApp

WRONG_PASSWORD = "Wrong-Guess-7f3a9c"
NEW_PASSWORD = "New-User-Password-51e0d2"
CHANGED_PASSWORD = "Changed-Password-a8b4c6"


async def test_secrets_never_reach_the_logs(
    light_app: LightApp, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Sign-ins (wrong, right), user creation and change, token use: no secret in any output.

    Both sinks are read: the records as stdlib logging got them (structlog's event dicts
    and foreign records, with their arguments) and the rendered lines on stderr and stdout.
    """
    caplog.set_level(logging.DEBUG)
    tokens = []
    async with light_app(log_level="DEBUG") as (_, http):
        wrong = await http.post(
            "/api/auth/token", data={"username": "fin", "password": WRONG_PASSWORD}
        )
        assert wrong.status_code == 401
        for username in ("fin", "admin"):
            right = await http.post(
                "/api/auth/token", data={"username": username, "password": PASSWORD}
            )
            assert right.status_code == 200
            tokens.append(right.json()["access_token"])
        fin, admin = ({"Authorization": f"Bearer {token}"} for token in tokens)

        created = await http.post(
            "/api/users",
            json={"username": "newbie", "password": NEW_PASSWORD, "role": "evaluator"},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        # Refused bodies are logged as refusals; their password must not be echoed.
        refused = await http.post(
            "/api/users",
            json={"username": "x", "password": NEW_PASSWORD, "role": "nobody"},
            headers=admin,
        )
        assert refused.status_code == 422
        assert NEW_PASSWORD not in refused.text
        changed = await http.patch(
            "/api/users/newbie", json={"password": CHANGED_PASSWORD}, headers=admin
        )
        assert changed.status_code == 200

        assert (await http.get("/api/me", headers=fin)).status_code == 200
        assert (await http.get("/api/projects", headers=fin)).status_code == 200
        tampered = {"Authorization": f"Bearer {tokens[0]}x"}
        assert (await http.get("/api/me", headers=tampered)).status_code == 401

    captured = capsys.readouterr()
    sinks = {
        "records": "\n".join(
            f"{record.getMessage()} {record.msg!r} {record.args!r} {record.__dict__!r}"
            for record in caplog.records
        ),
        "stderr": captured.err,
        "stdout": captured.out,
    }
    # The logs did see these requests: an empty capture would prove nothing.
    assert "sign_in_refused" in sinks["records"]
    assert "token_rejected" in sinks["records"]
    assert '"event": "sign_in"' in sinks["stderr"]
    secrets = {
        "the right password": PASSWORD,
        "a wrong password": WRONG_PASSWORD,
        "a new user's password": NEW_PASSWORD,
        "a changed password": CHANGED_PASSWORD,
        "the JWT secret": JWT_SECRET,
        **{f"bearer token {number}": token for number, token in enumerate(tokens)},
        # A token's signature alone is as good as the token for a forger's purposes.
        **{f"signature {number}": token.rsplit(".", 1)[1] for number, token in enumerate(tokens)},
    }
    leaks = [
        f"{name} in {sink}"
        for name, secret in secrets.items()
        for sink, text in sinks.items()
        if secret in text
    ]
    assert not leaks, leaks


@pytest.mark.parametrize("log_format", ["json", "console"])
async def test_a_traceback_logged_during_sign_in_shows_no_password(
    light_app: LightApp,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    log_format: str,
) -> None:
    """An unexpected error while the password is in hand (the hasher failing) is logged with
    its traceback, and the traceback names the frames but not their local variables: the
    sign-in's frames hold the password in plain text."""

    def hasher_fails(password_hash: str, password: str) -> bool:
        raise RuntimeError("the password hasher failed")

    monkeypatch.setattr("service.users.verify_password", hasher_fails)
    async with light_app(log_format=log_format) as (_, http):
        failed = await http.post(
            "/api/auth/token", data={"username": "fin", "password": WRONG_PASSWORD}
        )
        assert failed.status_code == 500
        assert failed.headers["content-type"] == "application/problem+json"
    stderr = capsys.readouterr().err
    # The traceback is there, down to the frame that holds the password.
    assert "RuntimeError" in stderr
    assert "the password hasher failed" in stderr
    assert "authenticate" in stderr
    assert WRONG_PASSWORD not in stderr
    assert JWT_SECRET not in stderr
