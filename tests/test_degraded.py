"""The desk when the server's own resources fail: the database goes away (a PostgreSQL restart,
a dropped connection) or the disk fills. The user gets a clear 503/507 in Japanese saying that
nothing was saved and when to try again — never a 500 with "your input was kept"."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session


@pytest.fixture
def database_down(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OperationalError(
            "SELECT 1",
            {},
            Exception("server closed the connection unexpectedly"),
            connection_invalidated=True,
        )

    def arm():
        monkeypatch.setattr(Session, "execute", refuse)
        monkeypatch.setattr(Session, "scalar", refuse)
        monkeypatch.setattr(Session, "scalars", refuse)
        monkeypatch.setattr(Session, "get", refuse)

    return arm


def test_api_answers_503_database_unavailable_with_retry_after(
    app, client, api_headers, database_down
):
    headers = api_headers("operator")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    database_down()
    answer = client.get("/api/v1/me", headers=headers)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    error = answer.get_json()["error"]
    assert error["code"] == "database_unavailable"
    assert "保存されていません" in error["message"]


def test_a_desk_page_shows_a_plain_japanese_page_that_retries(app, client, login, database_down):
    login("operator")
    assert client.get("/").status_code == 200
    database_down()
    page = client.get("/")
    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert "データベースに一時的に接続できません" in text
    assert "Traceback" not in text and 'http-equiv="refresh"' in text
