"""The admin pages as an administrator uses them (issue 18, Admin): app names on the usage page,
audit actions in the user's language (one registry, ``dai_audit_actions``), and users edited,
deactivated, reactivated and given a new password from the page."""

from __future__ import annotations

import re

import pytest
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from disaster_ai import audit, hookimpl
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import AuditEvent, User
from disaster_ai.testing import csrf_token_from

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def user_id(app, username: str) -> int:
    with session_scope(get_storage(app)) as session:
        return session.scalar(select(User.id).where(User.username == username))


def audited(app, action: str) -> list[str]:
    with session_scope(get_storage(app)) as session:
        return list(session.scalars(select(AuditEvent.target).where(AuditEvent.action == action)))


def test_usage_shows_app_names_not_codes(app, client, login):
    with app.app_context():
        audit.record_ai_call(
            app="notices", engine="e", model="m", input_text="x", output="y", duration_ms=1000
        )
        audit.record("auth.login")  # the core: no app
    login("admin")
    html = client.get("/admin/usage").get_data(as_text=True)
    assert '<td data-app="notices">避難情報</td>' in html
    assert re.search(r'<td data-app="core">[^<]*ログイン', html)
    assert re.search(
        r"<time datetime=\"\d{4}-\d{2}-\d{2}\">\d{4}年\d{1,2}月\d{1,2}日（.）</time>", html
    )
    english = client.get("/admin/usage?lang=en").get_data(as_text=True)
    assert '<td data-app="notices">Evacuation notices</td>' in english


def test_hook_dai_audit_actions(app, client, login, register_plugin):
    class Plugin:
        @hookimpl
        def dai_audit_actions(self):
            # its own action, and a municipality's wording of an app's (called first: it wins)
            return {"town.siren": _l("Siren sounded"), "notices.approve": "本部長の承認"}

    register_plugin(Plugin(), name="town")
    with app.app_context():
        audit.record("notices.approve", app="notices", target="notice:7")
        audit.record("notices.issue", app="notices", target="notice:7")
        audit.record("town.siren", target="siren:1")
        audit.record("town.unknown", target="x:1")
    login("admin")
    html = client.get("/admin/audit").get_data(as_text=True)
    assert '<td data-action="notices.issue">避難情報の発信</td>' in html  # the app's label
    assert '<td data-action="notices.approve">本部長の承認</td>' in html
    assert '<td data-action="town.siren">Siren sounded</td>' in html  # a plugin's own
    assert '<td data-action="town.unknown">town.unknown</td>' in html  # nobody named it
    assert '<td data-app="notices">避難情報</td>' in html
    assert not re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", html.split("<tbody>")[1])
    english = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert '<td data-action="notices.issue">Notice issued</td>' in english
    # the filter offers the actions by their labels; a day typed the Japanese way works
    assert '<option value="notices.issue">避難情報の発信</option>' in html
    day = client.get("/admin/audit?day=2026年9月23日").get_data(as_text=True)
    assert 'role="alert"' not in day.split("<table")[0]


def test_an_admin_edits_a_user_and_cannot_lock_the_desk_out(app, client, login):
    login("admin")
    op = user_id(app, "operator")
    page = client.get(f"/admin/users/{op}").get_data(as_text=True)
    assert 'selected value="operator"' in page
    token = csrf_token_from(page)
    saved = client.post(
        f"/admin/users/{op}",
        data={"csrf_token": token, "display_name": "当直 太郎", "role": "approver", "locale": "en"},
    )
    assert saved.status_code == 302
    page = client.get(f"/admin/users/{op}").get_data(as_text=True)
    assert 'value="当直 太郎"' in page and 'selected value="approver"' in page
    assert audited(app, "user.update") == ["user:operator"]
    # without the CSRF token: refused, nothing changes
    refused = client.post(f"/admin/users/{op}", data={"role": "admin", "display_name": "x"})
    assert refused.status_code == 400
    assert 'selected value="approver"' in client.get(f"/admin/users/{op}").get_data(as_text=True)

    # the admin cannot demote or deactivate themself, nor remove the last admin
    me = user_id(app, "admin")
    mine = client.get(f"/admin/users/{me}").get_data(as_text=True)
    assert re.search(r'<button type="submit" class="danger" disabled', mine)
    demote = client.post(
        f"/admin/users/{me}",
        data={"csrf_token": token, "display_name": "admin", "role": "operator", "locale": "ja"},
    )
    assert demote.status_code == 409 and "自分" in demote.get_data(as_text=True)
    off = client.post(f"/admin/users/{me}/active", data={"csrf_token": token, "active": "0"})
    assert off.status_code == 409 and 'id="active-error"' in off.get_data(as_text=True)
    with session_scope(get_storage(app)) as session:
        assert session.get(User, me).role == "admin" and session.get(User, me).active


def test_a_deactivated_user_is_logged_out_cannot_log_in_and_their_token_stops(
    app, client, login, users, api_headers
):
    headers = api_headers("operator")
    assert app.test_client().get("/api/v1/jobs", headers=headers).status_code == 200
    operator = app.test_client()
    page = operator.get("/login").get_data(as_text=True)
    operator.post(
        "/login",
        data={
            "username": "operator",
            "password": users["operator"],
            "csrf_token": csrf_token_from(page),
        },
    )
    assert operator.get("/").status_code == 200

    login("admin")
    op = user_id(app, "operator")
    token = csrf_token_from(client.get(f"/admin/users/{op}").get_data(as_text=True))
    off = client.post(f"/admin/users/{op}/active", data={"csrf_token": token, "active": "0"})
    assert off.status_code == 302
    assert 'data-active="false"' in client.get(f"/admin/users/{op}").get_data(as_text=True)
    assert audited(app, "user.deactivate") == ["user:operator"]
    assert operator.get("/").status_code == 302  # the open session ended
    assert app.test_client().get("/api/v1/jobs", headers=headers).status_code == 401
    again = app.test_client()
    page = again.get("/login").get_data(as_text=True)
    again.post(
        "/login",
        data={
            "username": "operator",
            "password": users["operator"],
            "csrf_token": csrf_token_from(page),
        },
    )
    assert again.get("/").status_code == 302

    on = client.post(f"/admin/users/{op}/active", data={"csrf_token": token, "active": "1"})
    assert on.status_code == 302 and audited(app, "user.reactivate") == ["user:operator"]
    assert app.test_client().get("/api/v1/jobs", headers=headers).status_code == 200


def test_an_admin_resets_a_password(app, client, login, users):
    login("admin")
    op = user_id(app, "operator")
    token = csrf_token_from(client.get(f"/admin/users/{op}").get_data(as_text=True))
    short = client.post(
        f"/admin/users/{op}/password", data={"csrf_token": token, "password": "x", "confirm": "x"}
    )
    assert short.status_code == 422 and "短" in short.get_data(as_text=True)
    differ = client.post(
        f"/admin/users/{op}/password",
        data={"csrf_token": token, "password": "新しいパスワード-2026", "confirm": "別のもの-2026"},
    )
    assert differ.status_code == 422
    done = client.post(
        f"/admin/users/{op}/password",
        data={
            "csrf_token": token,
            "password": "新しいパスワード-2026",
            "confirm": "新しいパスワード-2026",
        },
    )
    assert done.status_code == 302 and audited(app, "user.password_reset") == ["user:operator"]
    fresh = app.test_client()
    page = fresh.get("/login").get_data(as_text=True)
    fresh.post(
        "/login",
        data={
            "username": "operator",
            "password": users["operator"],
            "csrf_token": csrf_token_from(page),
        },
    )
    assert fresh.get("/").status_code == 302  # the old password no longer works
    page = fresh.get("/login").get_data(as_text=True)
    fresh.post(
        "/login",
        data={
            "username": "operator",
            "password": "新しいパスワード-2026",
            "csrf_token": csrf_token_from(page),
        },
    )
    assert fresh.get("/").status_code == 200


def test_the_last_active_admin_is_never_removed(app, client, api_headers):
    from disaster_ai.auth import UserChangeRefused, change_user, create_user

    headers = api_headers("admin")
    with app.app_context(), session_scope(get_storage(app)) as session:
        create_user(session, "second", "admin", "second-password-2026")
    second = user_id(app, "second")
    # another admin may be deactivated while one stays active …
    patched = client.patch(f"/api/v1/users/{second}", json={"active": False}, headers=headers)
    assert patched.status_code == 200
    # … but no change (from the API, the page or the command line) leaves no active admin
    with app.app_context(), session_scope(get_storage(app)) as session:
        me = session.scalar(select(User).where(User.username == "admin"))
        for change in ({"active": False}, {"role": "operator"}):
            with pytest.raises(UserChangeRefused) as refused:
                change_user(session, me, None, change)
            assert refused.value.code == "last_admin"
        assert change_user(session, me, None, {"display_name": "本部 管理者"}) == {
            "display_name": "本部 管理者"
        }
