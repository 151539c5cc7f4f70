"""Users and departments: the rules of the service functions and their HTTP routes."""

from __future__ import annotations

import httpx
import pytest
from argon2 import PasswordHasher
from sqlmodel import Session

from models.tables import Department, User
from models.vocabulary import Role
from service import auth
from service import users as user_service
from service.users import (
    ConflictError,
    DuplicateError,
    NotFoundError,
    UserError,
    add_user,
    authenticate,
)
from tests.service.conftest import PASSWORD, sign_in


class TestAddUser:
    def test_department_is_created_when_missing(self, session: Session) -> None:
        """A department user's unknown department is created, named after its code."""
        user = add_user(
            session=session,
            username="clerk9",
            password=PASSWORD,
            role="department",
            department="D9",
        )
        assert user.department == "D9"
        department = session.get(Department, "D9")
        assert department is not None
        assert department.name == "D9"

    def test_existing_department_is_kept(self, session: Session) -> None:
        """A second user of a department reuses it, its name untouched."""
        user_service.create_department(session=session, code="D7", name="教育局")
        add_user(
            session=session,
            username="clerk1",
            password=PASSWORD,
            role=Role.DEPARTMENT,
            department="D7",
        )
        add_user(
            session=session,
            username="clerk2",
            password=PASSWORD,
            role=Role.DEPARTMENT,
            department="D7",
        )
        assert [d.name for d in user_service.list_departments(session=session)] == ["教育局"]

    def test_password_is_hashed(self, session: Session) -> None:
        """The stored hash is argon2id and verifies the password; the password is not stored."""
        user = add_user(session=session, username="fin9", password=PASSWORD, role="finance")
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert auth.verify_password(user.password_hash, PASSWORD)

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"role": "department"}, "department"),
            ({"role": "finance", "department": "D1"}, "department"),
            ({"role": "system"}, "role"),
            ({"role": "superuser"}, "role"),
            ({"role": "finance", "username": "ab"}, "username"),
            ({"role": "finance", "username": "a" * 65}, "username"),
            ({"role": "finance", "username": "bad name"}, "username"),
            ({"role": "finance", "password": "short"}, "password"),
            ({"role": "department", "department": "no spaces"}, "department"),
        ],
    )
    def test_rules_name_the_field(
        self, session: Session, kwargs: dict[str, str], field: str
    ) -> None:
        """Each broken rule is a UserError naming its field."""
        arguments = {"username": "someone", "password": PASSWORD, **kwargs}
        with pytest.raises(UserError) as raised:
            add_user(session=session, **arguments)
        assert raised.value.field == field
        assert session.get(User, arguments["username"]) is None

    def test_duplicate_username_is_refused(self, session: Session) -> None:
        """A taken username is a DuplicateError, and the first user is unchanged."""
        add_user(session=session, username="twin", password=PASSWORD, role="finance")
        with pytest.raises(DuplicateError, match="already exists"):
            add_user(session=session, username="twin", password="other-password", role="auditor")
        twin = session.get(User, "twin")
        assert twin is not None
        assert twin.role == "finance"

    def test_error_never_quotes_the_password(self, session: Session) -> None:
        """A too-short password's error does not contain it."""
        with pytest.raises(UserError) as raised:
            add_user(session=session, username="x-user", password="s3cr3t", role="finance")
        assert "s3cr3t" not in str(raised.value)


class TestAuthenticate:
    def test_right_and_wrong_passwords(self, session: Session) -> None:
        """Only the right password of an active user authenticates."""
        add_user(session=session, username="fin9", password=PASSWORD, role="finance")
        assert authenticate(session=session, username="fin9", password=PASSWORD) is not None
        assert authenticate(session=session, username="fin9", password="nope-nope") is None
        assert authenticate(session=session, username="ghost", password=PASSWORD) is None
        user_service.set_active(session=session, username="fin9", active=False)
        assert authenticate(session=session, username="fin9", password=PASSWORD) is None

    def test_weaker_hash_is_upgraded_on_sign_in(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A hash made with older parameters is replaced at the next successful sign-in."""
        add_user(session=session, username="fin9", password=PASSWORD, role="finance")
        old = session.get(User, "fin9")
        assert old is not None
        old_hash = old.password_hash
        monkeypatch.setattr(
            auth, "_hasher", PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
        )
        user = authenticate(session=session, username="fin9", password=PASSWORD)
        assert user is not None
        assert user.password_hash != old_hash
        assert "t=2" in user.password_hash


class TestUpdateUser:
    def test_leaving_department_role_drops_the_department(self, session: Session) -> None:
        """A department user made finance loses the department without being told twice."""
        add_user(
            session=session,
            username="clerk1",
            password=PASSWORD,
            role="department",
            department="D1",
        )
        user = user_service.update_user(session=session, username="clerk1", role=Role.FINANCE)
        assert (user.role, user.department) == ("finance", None)

    def test_becoming_a_department_user_needs_a_department(self, session: Session) -> None:
        """Finance made department without a department is refused."""
        add_user(session=session, username="fin1", password=PASSWORD, role="finance")
        with pytest.raises(UserError) as raised:
            user_service.update_user(session=session, username="fin1", role=Role.DEPARTMENT)
        assert raised.value.field == "department"

    def test_moving_to_a_new_department_creates_it(self, session: Session) -> None:
        """A department user moved to an unknown department creates that department."""
        add_user(
            session=session,
            username="clerk1",
            password=PASSWORD,
            role="department",
            department="D1",
        )
        user_service.update_user(session=session, username="clerk1", department="D2")
        assert session.get(Department, "D2") is not None

    def test_last_admin_stays(self, session: Session) -> None:
        """The last active admin can be neither disabled nor demoted."""
        add_user(session=session, username="root", password=PASSWORD, role="admin")
        with pytest.raises(ConflictError):
            user_service.set_active(session=session, username="root", active=False)
        with pytest.raises(ConflictError):
            user_service.update_user(session=session, username="root", role=Role.AUDITOR)
        add_user(session=session, username="root2", password=PASSWORD, role="admin")
        assert not user_service.set_active(session=session, username="root", active=False).active

    def test_unknown_user(self, session: Session) -> None:
        """Updating a user that does not exist is a NotFoundError."""
        with pytest.raises(NotFoundError):
            user_service.set_active(session=session, username="ghost", active=False)


@pytest.mark.usefixtures("users")
class TestUserRoutes:
    async def test_admin_creates_a_department_user(
        self, client: httpx.AsyncClient, session: Session
    ) -> None:
        """POST /api/users is 201 without the hash, and creates the department."""
        response = await client.post(
            "/api/users",
            headers=await sign_in(client, "admin"),
            json={
                "username": "clerk2",
                "password": PASSWORD,
                "role": "department",
                "department": "D2",
            },
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["username"] == "clerk2"
        assert body["department"] == "D2"
        assert "password_hash" not in body
        assert session.get(Department, "D2") is not None
        await sign_in(client, "clerk2")

    async def test_duplicate_user_is_409(self, client: httpx.AsyncClient) -> None:
        """Creating an existing username is a 409 problem naming the field."""
        response = await client.post(
            "/api/users",
            headers=await sign_in(client, "admin"),
            json={"username": "fin", "password": PASSWORD, "role": "finance"},
        )
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"] == [
            {"field": "body.username", "reason": "user 'fin' already exists"}
        ]

    async def test_rule_broken_is_422_without_the_password(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A too-short password is a 422 naming body.password; neither body nor logs echo it."""
        response = await client.post(
            "/api/users",
            headers=await sign_in(client, "admin"),
            json={"username": "newbie", "password": "hunter2", "role": "finance"},
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.password"
        assert "hunter2" not in response.text
        assert "hunter2" not in caplog.text

    async def test_list_users(self, client: httpx.AsyncClient) -> None:
        """GET /api/users lists everyone by username and filters by department."""
        headers = await sign_in(client, "admin")
        everyone = (await client.get("/api/users", headers=headers)).json()
        assert [u["username"] for u in everyone] == ["admin", "audit", "clerk", "eval", "fin"]
        d1 = (await client.get("/api/users", headers=headers, params={"department": "D1"})).json()
        assert [u["username"] for u in d1] == ["clerk"]

    async def test_patch_disables_and_changes_password(self, client: httpx.AsyncClient) -> None:
        """PATCH sets active and password; the new password works, the old one does not."""
        headers = await sign_in(client, "admin")
        response = await client.patch(
            "/api/users/fin", headers=headers, json={"password": "new-password-1"}
        )
        assert response.status_code == 200
        await sign_in(client, "fin", "new-password-1")
        old = await client.post("/api/auth/token", data={"username": "fin", "password": PASSWORD})
        assert old.status_code == 401
        response = await client.patch("/api/users/fin", headers=headers, json={"active": False})
        assert response.json()["active"] is False

    async def test_patch_clears_department_with_null(self, client: httpx.AsyncClient) -> None:
        """`"department": null` with a new role clears it; omitting it is "leave as is"."""
        headers = await sign_in(client, "admin")
        response = await client.patch(
            "/api/users/clerk", headers=headers, json={"role": "auditor", "department": None}
        )
        assert response.status_code == 200
        assert (response.json()["role"], response.json()["department"]) == ("auditor", None)

    async def test_patch_unknown_user_is_404(self, client: httpx.AsyncClient) -> None:
        """PATCH of a user that does not exist is a 404 problem."""
        response = await client.patch(
            "/api/users/ghost", headers=await sign_in(client, "admin"), json={"active": False}
        )
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_admin_cannot_disable_the_last_admin(self, client: httpx.AsyncClient) -> None:
        """Disabling the only admin is a 409 problem."""
        response = await client.patch(
            "/api/users/admin", headers=await sign_in(client, "admin"), json={"active": False}
        )
        assert response.status_code == 409


@pytest.mark.usefixtures("users")
class TestDepartmentRoutes:
    async def test_admin_creates_and_renames(self, client: httpx.AsyncClient) -> None:
        """POST then PATCH a department; everyone reads the result."""
        admin = await sign_in(client, "admin")
        created = await client.post(
            "/api/departments", headers=admin, json={"code": "EDU", "name": "教育局"}
        )
        assert created.status_code == 201
        assert created.json()["name"] == "教育局"
        renamed = await client.patch("/api/departments/EDU", headers=admin, json={"head": "张三"})
        assert renamed.json() | {"name": "教育局", "head": "张三"} == renamed.json()
        read = await client.get("/api/departments/EDU", headers=await sign_in(client, "clerk"))
        assert read.json()["head"] == "张三"

    async def test_duplicate_department_is_409(self, client: httpx.AsyncClient) -> None:
        """Creating an existing department code is a 409 problem."""
        response = await client.post(
            "/api/departments", headers=await sign_in(client, "admin"), json={"code": "D1"}
        )
        assert response.status_code == 409
        assert response.json()["errors"][0]["field"] == "body.code"

    async def test_unknown_department_is_404(self, client: httpx.AsyncClient) -> None:
        """Reading a department that does not exist is a 404 problem."""
        response = await client.get("/api/departments/NOPE", headers=await sign_in(client, "fin"))
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    @pytest.mark.parametrize("username", ["fin", "clerk", "audit", "eval"])
    async def test_only_admins_write(self, client: httpx.AsyncClient, username: str) -> None:
        """Other roles get 403 on creating or changing a department."""
        headers = await sign_in(client, username)
        created = await client.post("/api/departments", headers=headers, json={"code": "X"})
        changed = await client.patch("/api/departments/D1", headers=headers, json={"name": "Y"})
        assert (created.status_code, changed.status_code) == (403, 403)
