"""Logins, roles, CSRF, API tokens and the failed-login rate limit."""

import re

from sqlalchemy import select

from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import ApiToken, AuditEvent, LoginAttempt, User
from disaster_ai.testing import csrf_token_from


def test_passwords_are_hashed_never_stored_plain(app, users):
    with session_scope(get_storage(app)) as session:
        user = session.scalar(select(User).where(User.username == "operator"))
        assert users["operator"] not in user.password_hash
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_login_then_dashboard_then_logout(client, login):
    assert client.get("/").status_code == 302  # not logged in → login page
    response = login("operator")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200 and "operator" in page.get_data(as_text=True)
    token = csrf_token_from(page.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_shows_a_message_and_is_audited(app, client, login):
    response = login("operator", "wrong-password")
    assert response.status_code == 401
    assert 'role="alert"' in response.get_data(as_text=True)
    with session_scope(get_storage(app)) as session:
        assert (
            session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.login_failed"))
            is not None
        )


def test_a_form_without_csrf_token_is_refused(client, users):
    response = client.post("/login", data={"username": "operator", "password": users["operator"]})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # still logged out


def test_failed_logins_are_rate_limited_even_with_the_right_password(make_app, users):
    app = make_app(LOGIN_MAX_FAILURES=3)
    client = app.test_client()

    def attempt(password):
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        return client.post(
            "/login", data={"username": "operator", "password": password, "csrf_token": token}
        )

    # the users fixture created users on the first app's database, which make_app shares
    assert [attempt("nope").status_code for _ in range(3)] == [401, 401, 401]
    locked = attempt(users["operator"])
    assert locked.status_code == 429
    with session_scope(get_storage(app)) as session:
        assert session.query(LoginAttempt).filter_by(success=True).count() == 0


def test_after_login_the_next_parameter_never_leaves_the_site(client, users):
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=//evil.example.com/",
        data={"username": "admin", "password": users["admin"], "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_operator_cannot_open_admin_pages(client, login):
    login("operator")
    for path in ("/admin/users", "/admin/audit", "/admin/usage", "/-/plugins"):
        assert client.get(path).status_code == 403, path


def test_admin_creates_a_user_through_the_form_and_errors_keep_the_input(client, login, app):
    login("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    token = csrf_token_from(page)
    bad = client.post(
        "/admin/users",
        data={
            "username": "kacho",
            "display_name": "課長 太郎",
            "role": "approver",
            "password": "short",
            "locale": "ja",
            "csrf_token": token,
        },
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'value="課長 太郎"' in html and 'value="kacho"' in html  # nothing typed is lost
    good = client.post(
        "/admin/users",
        data={
            "username": "kacho",
            "display_name": "課長 太郎",
            "role": "approver",
            "password": "long-enough-pass",
            "locale": "ja",
            "csrf_token": token,
        },
    )
    assert good.status_code == 302
    with session_scope(get_storage(app)) as session:
        assert session.scalar(select(User.role).where(User.username == "kacho")) == "approver"


def test_api_tokens_are_hashed_at_rest_and_revocable(app, client, api_headers):
    headers = api_headers("operator")
    plain = headers["Authorization"].split()[1]
    assert client.get("/api/v1/me", headers=headers).get_json()["username"] == "operator"
    with session_scope(get_storage(app)) as session:
        stored = session.scalars(select(ApiToken.token_hash)).all()
        assert plain not in stored and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in stored)
        token_id = session.scalar(select(ApiToken.id))
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=headers).status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_wrong_token_is_401_json(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer dai_not-a-token"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_a_browser_session_needs_csrf_for_api_writes_but_a_token_does_not(
    client, login, api_headers
):
    login("operator")
    refused = client.post("/api/v1/tokens", json={"name": "tablet"})
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf_failed"
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    assert (
        client.post(
            "/api/v1/tokens", json={"name": "tablet"}, headers={"X-CSRFToken": token}
        ).status_code
        == 201
    )
    other = api_headers("approver")
    assert (
        client.application.test_client()
        .post("/api/v1/tokens", json={"name": "x"}, headers=other)
        .status_code
        == 201
    )


def test_changing_the_password_ends_existing_sessions(app, client, login):
    from disaster_ai.auth import set_password

    login("operator")
    assert client.get("/").status_code == 200
    with session_scope(get_storage(app)) as session:
        set_password(
            session.scalar(select(User).where(User.username == "operator")), "a-new-password-1"
        )
    assert client.get("/").status_code == 302


def test_every_state_changing_endpoint_requires_a_permission(app):
    """A new POST/PUT/PATCH/DELETE view without @requires(...) fails this test."""
    public = {"web.login", "web.logout"}
    for rule in app.url_map.iter_rules():
        if (
            not (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
            or rule.endpoint in public
        ):
            continue
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "required_action", None), f"{rule.rule} has no permission check"


def test_an_approver_sees_the_desk_navigation_but_not_admin_pages(client, login):
    login("approver")
    html = client.get("/").get_data(as_text=True)
    assert 'href="/apps/notices"' in html and 'href="/apps/situation"' in html
    assert client.get("/admin/users").status_code == 403


# --- server-side sessions ------------------------------------------------------------------


def test_after_logout_the_old_session_cookie_opens_nothing(app, client, login):
    login("operator")
    stolen = client.get_cookie("session").value  # e.g. copied from the shared desk PC
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    other = app.test_client()
    other.set_cookie("session", stolen)
    assert other.get("/").status_code == 302
    assert other.get("/api/v1/me").status_code == 401


def test_logout_ends_only_that_session(app, login, client):
    login("operator")
    second = app.test_client()
    page = second.get("/login").get_data(as_text=True)
    second.post(
        "/login",
        data={
            "username": "operator",
            "password": "operator-pass-123",
            "csrf_token": csrf_token_from(page),
        },
    )
    assert second.get("/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(True))})
    assert client.get("/").status_code == 302
    assert second.get("/").status_code == 200  # the other desk stays logged in


def test_a_password_change_ends_every_session_on_the_server(app, client, login):
    from disaster_ai.auth import set_password
    from disaster_ai.storage.models import WebSession

    login("operator")
    cookie = client.get_cookie("session").value
    with session_scope(get_storage(app)) as session:
        user = session.scalar(select(User).where(User.username == "operator"))
        assert session.query(WebSession).filter_by(user_id=user.id).count() == 1
        set_password(user, "a-new-password-1")
        session.flush()
        assert session.query(WebSession).filter_by(user_id=user.id).count() == 0
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/").status_code == 302


# --- the login limiter ---------------------------------------------------------------------


def _parallel_attempts(app, count: int, username: str, password: str, address: str) -> list[str]:
    """``count`` logins at the same instant, each in its own thread, request and connection."""
    import threading

    from disaster_ai.auth import AuthError, authenticate
    from disaster_ai.storage.engine import db

    barrier = threading.Barrier(count)
    outcomes: list[str] = []

    def attempt():
        with app.test_request_context("/login", method="POST"):
            barrier.wait()
            try:
                authenticate(db(), username, password, address)
                outcomes.append("ok")
            except AuthError as exc:
                outcomes.append(exc.code)
            except Exception as exc:  # pragma: no cover - reported by the assertion
                outcomes.append(repr(exc))

    threads = [threading.Thread(target=attempt) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_ten_parallel_wrong_passwords_check_exactly_the_limit(make_app, users):
    """10 attempts at once against a limit of 5: 5 passwords are checked, 5 are refused
    before any check (on SQLite and on PostgreSQL)."""
    app = make_app(LOGIN_MAX_FAILURES=5)
    outcomes = _parallel_attempts(app, 10, "operator", "wrong-password", "192.0.2.7")
    assert sorted(outcomes) == ["bad_credentials"] * 5 + ["too_many_attempts"] * 5, outcomes
    with session_scope(get_storage(app)) as session:
        assert session.query(LoginAttempt).filter_by(username="operator").count() == 5


def test_one_name_locked_from_an_address_does_not_lock_the_others(make_app, users):
    app = make_app(LOGIN_MAX_FAILURES=3)
    client = app.test_client()

    def attempt(username, password, address="192.0.2.10"):
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        return client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            environ_base={"REMOTE_ADDR": address},
        )

    assert [attempt("operator", "nope").status_code for _ in range(3)] == [401, 401, 401]
    assert attempt("operator", users["operator"]).status_code == 429
    assert attempt("approver", users["approver"]).status_code == 302  # same address, other name
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").get_data(True))})
    # the owner of the name, from their own desk, is not locked out by the guesser
    assert attempt("operator", users["operator"], address="192.0.2.99").status_code == 302


def test_many_names_from_one_address_hit_the_address_cap(make_app, users):
    app = make_app(LOGIN_MAX_FAILURES=5, LOGIN_MAX_FAILURES_PER_IP=4)
    client = app.test_client()

    def attempt(username, password, address):
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        return client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    sprayed = [attempt(f"guess{i}", "x", "198.51.100.1") for i in range(5)]
    assert sprayed == [401, 401, 401, 401, 429]
    assert attempt("operator", users["operator"], "198.51.100.2") == 302


def test_a_correct_password_gives_back_its_reservation(make_app, users):
    app = make_app(LOGIN_MAX_FAILURES=3, LOGIN_MAX_FAILURES_PER_IP=3)
    outcomes = []
    for _ in range(5):  # more logins than the address cap: successes never count as failures
        outcomes += _parallel_attempts(app, 1, "operator", users["operator"], "192.0.2.20")
    assert outcomes == ["ok"] * 5


# --- proxies -------------------------------------------------------------------------------


def _logged_address(app) -> str:
    with session_scope(get_storage(app)) as session:
        return session.scalars(select(LoginAttempt.remote_addr).order_by(LoginAttempt.id)).all()[-1]


def test_forwarded_headers_are_ignored_unless_a_proxy_is_configured(make_app, users):
    for config, expected in (({}, "127.0.0.1"), ({"PROXY_FIX_X_FOR": 1}, "203.0.113.5")):
        app = make_app(**config)
        client = app.test_client()
        token = csrf_token_from(client.get("/login").get_data(as_text=True))
        client.post(
            "/login",
            data={"username": "operator", "password": "nope", "csrf_token": token},
            headers={"X-Forwarded-For": "203.0.113.5"},
        )
        assert _logged_address(app) == expected
