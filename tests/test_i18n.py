"""Languages: Japanese by default, English on request; and a complete Japanese catalogue.

The catalogue test extracts every message id from disaster_ai/ exactly as `make translations`
does, so adding an untranslated string (or breaking a %(name)s placeholder) fails the suite.
docs/i18n.md says how to fix that.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from disaster_ai.config import REPO_ROOT
from disaster_ai.testing import csrf_token_from

PACKAGE = Path(REPO_ROOT) / "disaster_ai"
TRANSLATIONS = PACKAGE / "translations"
BABEL_CFG = Path(REPO_ROOT) / "babel.cfg"
EXTRA_KEYWORDS = ["_l", "lazy_gettext"]  # the -k options of `make translations-extract`
FIX_HINT = (
    "Add the translation to disaster_ai/translations/ja/LC_MESSAGES/messages.po "
    "(`make translations-extract` first adds new ids), then `make translations`. See docs/i18n.md."
)

# Language is not a database matter: the web tests run on SQLite only.
SQLITE = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def _read_po(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def _compile(po: Path, mo: Path) -> None:
    """What `pybabel compile` does for one catalogue (fuzzy entries left out), written atomically
    so a test run beside this one never reads half a file."""
    catalog = _read_po(po)
    fd, tmp = tempfile.mkstemp(dir=mo.parent, prefix=".messages-", suffix=".mo")
    with os.fdopen(fd, "wb") as f:
        write_mo(f, catalog, use_fuzzy=False)
    os.replace(tmp, mo)


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogues():
    """`make test` compiles first; a bare `pytest` in a fresh clone compiles the missing or stale
    .mo files here (they are git-ignored build output)."""
    compiled = False
    for po in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            _compile(po, mo)
            compiled = True
    if compiled:
        # Flask-Babel caches loaded catalogues per process, on the shared Babel instance.
        from disaster_ai.extensions import babel

        domain = babel.__dict__.get("domain_instance")
        if domain is not None:
            domain.cache.clear()


# --- the catalogue ---------------------------------------------------------------------------


def extracted_messages() -> dict[str, list[str]]:
    """msgid → ["file:line", ...], extracted with babel.cfg and the same keywords as pybabel."""
    with BABEL_CFG.open(encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f, filename=str(BABEL_CFG))
    keywords = dict(DEFAULT_KEYWORDS)
    keywords.update(parse_keywords(EXTRA_KEYWORDS))
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(PACKAGE), method_map, options_map, keywords=keywords
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, []).append(f"disaster_ai/{filename}:{lineno}")
    return found


PLACEHOLDER = re.compile(r"%%|%(?:\((\w+)\))?([#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa])?")


def placeholders(text: str) -> list[str]:
    """The %-placeholders of a string, sorted; a lone '%' counts, since Jinja's newstyle gettext
    formats every template string (a translation must write '%%' for a percent sign)."""
    found = []
    for match in PLACEHOLDER.finditer(text):
        if match.group(0) == "%%":
            continue
        found.append(match.group(0) if match.group(2) else "% (lone)")
    return sorted(found)


def test_extraction_finds_python_templates_and_dynamic_ids():
    messages = extracted_messages()
    assert "Log in" in messages  # templates
    assert "This field is required." in messages  # lazy_gettext as _l
    assert "Log in or send an API token." in messages  # gettext as _
    dynamic = ["operator", "approver", "admin", "active", "failed", "blocked", "core"]
    dynamic += ["entry point", "plugins dir", "unknown", "test"]
    missing = [msgid for msgid in dynamic if msgid not in messages]
    assert not missing, f"{missing} missing from disaster_ai/i18n_dynamic.py"


def test_every_message_has_a_japanese_translation():
    catalog = _read_po(TRANSLATIONS / "ja" / "LC_MESSAGES" / "messages.po")
    problems = []
    for msgid, where in sorted(extracted_messages().items()):
        message = catalog.get(msgid)
        if message is None:
            problems.append(f"missing from ja .po: {msgid!r} ({where[0]})")
        elif not message.string:
            problems.append(f"empty msgstr: {msgid!r} ({where[0]})")
        elif message.fuzzy:
            problems.append(
                f"fuzzy (check it, then remove the '#, fuzzy' line): {msgid!r} ({where[0]})"
            )
    assert not problems, "\n".join(problems + [FIX_HINT])


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_translations_keep_the_placeholders(lang):
    catalog = _read_po(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
    problems = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if placeholders(text) != placeholders(ids[0]):
                problems.append(
                    f"{message.id!r}: {placeholders(ids[0])} but {text!r} has {placeholders(text)}"
                )
    assert not problems, "\n".join(problems)


def test_compiled_catalogue_matches_the_po():
    po_path = TRANSLATIONS / "ja" / "LC_MESSAGES" / "messages.po"
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.stat().st_mtime >= po_path.stat().st_mtime, "run `make translations`"
    with mo_path.open("rb") as f:
        compiled = read_mo(f)
    catalog = _read_po(po_path)
    stale = [
        m.id
        for m in catalog
        if m.id
        and m.string
        and not m.fuzzy
        and (compiled.get(m.id) is None or compiled.get(m.id).string != m.string)
    ]
    assert not stale, f"messages.mo is out of date for {stale[:5]}: run `make translations`"


# --- choosing the language -------------------------------------------------------------------


def page(response) -> str:
    return response.get_data(as_text=True)


@SQLITE
def test_login_page_is_japanese_by_default(client):
    html = page(client.get("/login"))
    assert '<html lang="ja">' in html
    assert "<h1>ログイン</h1>" in html
    assert "ユーザー名" in html and "パスワード" in html
    assert "災害対応デスク" in html
    assert "Log in" not in html and "Password" not in html


@SQLITE
def test_lang_parameter_switches_to_english_for_the_session(client):
    html = page(client.get("/login?lang=en"))
    assert '<html lang="en">' in html and "<h1>Log in</h1>" in html and "User name" in html
    assert '<html lang="en">' in page(client.get("/login")), "the choice is kept in the session"
    assert '<html lang="en">' in page(client.get("/login?lang=fr")), (
        "an unknown language is ignored"
    )
    html = page(client.get("/login?lang=ja"))
    assert '<html lang="ja">' in html and "<h1>ログイン</h1>" in html


@SQLITE
def test_lang_route_switches_and_returns_to_the_page(client):
    response = client.get("/lang/en?next=/login")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert "<h1>Log in</h1>" in page(client.get("/login"))
    client.get("/lang/xx")  # not offered: nothing changes
    assert "<h1>Log in</h1>" in page(client.get("/login"))
    client.get("/lang/ja")
    assert "<h1>ログイン</h1>" in page(client.get("/login"))


def _add_user(app, username: str, password: str, locale: str, role: str = "operator") -> None:
    from disaster_ai.auth import create_user
    from disaster_ai.storage import get_storage, session_scope

    with app.app_context(), session_scope(get_storage(app)) as session:
        create_user(session, username, role, password, locale=locale)


@SQLITE
def test_saved_locale_en_shows_english_after_login(app, client, login):
    _add_user(app, "alice", "alice-pass-123", "en")
    assert login("alice", "alice-pass-123").status_code == 302
    html = page(client.get("/"))
    assert '<html lang="en">' in html
    assert "<h1>Dashboard</h1>" in html and "Log out" in html and "(operator)" in html
    # The session switch still wins for this visit.
    client.get("/lang/ja")
    assert "<h1>ダッシュボード</h1>" in page(client.get("/"))


@SQLITE
def test_default_user_sees_japanese_roles_and_navigation(client, login):
    login("operator")
    html = page(client.get("/"))
    assert '<html lang="ja">' in html
    assert "<h1>ダッシュボード</h1>" in html and "ログアウト" in html
    assert "operator (オペレーター)" in html  # _(actor.roles|first)


@SQLITE
def test_admin_pages_translate_stored_values(client, login):
    login("admin")
    html = page(client.get("/admin/users"))
    assert "<h1>ユーザー管理</h1>" in html
    for role in ("オペレーター", "承認者", "管理者"):  # _(user.role) and the role choices
        assert f"<td>{role}</td>" in html
    html = page(client.get("/-/plugins"))
    assert "<strong>有効</strong>" in html and "<td>本体</td>" in html  # _(p.status), _(p.source)


@SQLITE
def test_login_validation_error_is_japanese_next_to_the_field(client, users):
    token = csrf_token_from(page(client.get("/login")))
    response = client.post("/login", data={"username": "", "password": "", "csrf_token": token})
    assert response.status_code == 400
    html = page(response)
    assert '<p class="error" id="username-error" role="alert">この項目は必須です。</p>' in html
    assert 'aria-describedby="username-error"' in html

    response = client.post(
        "/login", data={"username": "operator", "password": "wrong-password", "csrf_token": token}
    )
    assert response.status_code == 401
    assert (
        '<p class="error" id="password-error" role="alert">'
        "ユーザー名またはパスワードが正しくありません。</p>"
    ) in page(response)

    token = csrf_token_from(page(client.get("/login?lang=en")))
    response = client.post("/login", data={"username": "", "password": "", "csrf_token": token})
    assert '<p class="error" id="username-error" role="alert">This field is required.</p>' in page(
        response
    )


@SQLITE
def test_api_error_messages_follow_the_language(app, client, api_headers, users):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json()["error"] == {
        "code": "unauthenticated",
        "details": {},
        "message": "ログインするか、APIトークンを送信してください。",
    }
    assert (
        client.get("/api/v1/nothing-here").get_json()["error"]["message"]
        == "該当するデータが見つかりません。"
    )

    response = client.get("/api/v1/jobs/999", headers=api_headers("admin"))
    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == "ID 999 のジョブは見つかりません。"

    # Token callers get their saved language; ?lang= overrides it.
    response = client.get("/api/v1/users", headers=api_headers("operator"))
    assert response.status_code == 403
    assert (
        response.get_json()["error"]["message"] == "この操作（admin.users）を行う権限がありません。"
    )
    _add_user(app, "bob", "bob-pass-1234", "en")
    response = client.get("/api/v1/users", headers=api_headers("bob"))
    assert response.get_json()["error"]["message"] == "Your role may not do this (admin.users)."

    english = app.test_client()
    response = english.get("/api/v1/me?lang=en")
    assert response.get_json()["error"]["message"] == "Log in or send an API token."
