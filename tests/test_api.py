"""The JSON API: one error format, 4xx for bad input (never a 500), nothing written on error,
and an OpenAPI document generated from the code."""

import pytest
from sqlalchemy import func, select

from disaster_ai.storage import get_storage, session_scope
from disaster_ai.storage.models import ApiToken, AuditEvent, User


def assert_error(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def count(app, model):
    with session_scope(get_storage(app)) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_unauthenticated_requests_get_401_json(client):
    assert_error(client.get("/api/v1/me"), 401, "unauthenticated")
    assert_error(client.post("/api/v1/users", json={}), 401, "unauthenticated")


def test_operator_may_not_create_users(client, api_headers):
    assert_error(
        client.post(
            "/api/v1/users",
            json={"username": "x", "role": "operator", "password": "p" * 12},
            headers=api_headers("operator"),
        ),
        403,
        "forbidden",
    )


@pytest.mark.parametrize(
    "body, field",
    [
        ({"role": "operator", "password": "long-enough-1"}, "username"),  # missing field
        ({"username": "kacho", "role": "mayor", "password": "long-enough-1"}, "role"),  # bad enum
        (
            {"username": 42, "role": "operator", "password": "long-enough-1"},
            "username",
        ),  # wrong type
        (
            {
                "username": "kacho",
                "role": "operator",
                "password": "long-enough-1",
                "is_admin": True,
            },
            "is_admin",
        ),
    ],
)
def test_bad_user_bodies_are_422_with_the_field_and_nothing_is_written(
    app, client, api_headers, body, field
):
    headers = api_headers("admin")
    before_users, before_audit = count(app, User), count(app, AuditEvent)
    error = assert_error(client.post("/api/v1/users", json=body, headers=headers), 422, "invalid")
    assert field in error["details"]["fields"]
    assert (count(app, User), count(app, AuditEvent)) == (before_users, before_audit)


def test_short_password_and_duplicate_name_are_clear(app, client, api_headers):
    headers = api_headers("admin")
    short = assert_error(
        client.post(
            "/api/v1/users",
            json={"username": "kacho", "role": "approver", "password": "short"},
            headers=headers,
        ),
        422,
    )
    assert short["details"]["fields"] == {"password": "password_too_short"}
    taken = assert_error(
        client.post(
            "/api/v1/users",
            json={"username": "operator", "role": "approver", "password": "long-enough-1"},
            headers=headers,
        ),
        409,
    )
    assert taken["details"]["fields"] == {"username": "username_taken"}


def test_a_user_is_created_and_audited(app, client, api_headers):
    response = client.post(
        "/api/v1/users",
        json={
            "username": "kacho",
            "role": "approver",
            "password": "long-enough-1",
            "display_name": "課長",
        },
        headers=api_headers("admin"),
    )
    assert response.status_code == 201 and response.get_json()["role"] == "approver"
    audit = client.get("/api/v1/audit?action=user.create", headers=api_headers("admin")).get_json()[
        "events"
    ]
    assert audit[0]["target"] == "user:kacho" and audit[0]["actor"] == "admin"


def test_not_json_and_not_an_object_and_malformed_json(app, client, api_headers):
    headers = api_headers("admin")
    assert_error(
        client.post("/api/v1/tokens", data="name=x", headers=headers), 415, "unsupported_media_type"
    )
    assert_error(client.post("/api/v1/tokens", json=["x"], headers=headers), 400, "bad_request")
    assert_error(
        client.post(
            "/api/v1/tokens", data="{bad json", content_type="application/json", headers=headers
        ),
        400,
    )


def test_too_large_bodies_are_413_and_nothing_is_written(make_app, users, api_headers):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    client = app.test_client()
    headers = api_headers("admin")
    before = count(app, ApiToken)
    assert_error(
        client.post("/api/v1/tokens", json={"name": "x" * 5000}, headers=headers), 413, "too_large"
    )
    assert count(app, ApiToken) == before


def test_unknown_ids_and_routes_are_404_json(client, api_headers):
    headers = api_headers("admin")
    assert_error(client.get("/api/v1/jobs/999999", headers=headers), 404, "not_found")
    assert_error(
        client.patch("/api/v1/users/999999", json={"role": "operator"}, headers=headers), 404
    )
    assert_error(client.delete("/api/v1/tokens/999999", headers=headers), 404)
    assert_error(client.get("/api/v1/jobs/not-a-number", headers=headers), 404)
    assert_error(client.get("/api/v1/no-such-thing", headers=headers), 404)
    assert_error(client.put("/api/v1/me", headers=headers), 405, "method_not_allowed")


def test_bad_query_parameters_are_422(client, api_headers):
    headers = api_headers("admin")
    assert_error(client.get("/api/v1/jobs?limit=0", headers=headers), 422)
    assert_error(client.get("/api/v1/jobs?limit=abc", headers=headers), 422)
    assert_error(client.get("/api/v1/audit?since=yesterday", headers=headers), 422)
    assert_error(client.get("/api/v1/audit?since=2026-09-23T06:00:00", headers=headers), 422)
    assert_error(client.get("/api/v1/usage?days=9999", headers=headers), 422)


def test_an_admin_cannot_lock_themselves_out(client, api_headers, app):
    headers = api_headers("admin")
    me = next(
        u
        for u in client.get("/api/v1/users", headers=headers).get_json()["users"]
        if u["username"] == "admin"
    )
    assert_error(
        client.patch(f"/api/v1/users/{me['id']}", json={"active": False}, headers=headers), 409
    )


def test_someone_elses_token_cannot_be_revoked(client, api_headers, app):
    api_headers("operator")  # the operator owns the only token
    with session_scope(get_storage(app)) as session:
        operator_token = session.scalar(select(ApiToken.id))
    assert_error(
        client.delete(f"/api/v1/tokens/{operator_token}", headers=api_headers("approver")), 404
    )


def test_garbage_never_causes_a_500(app, client, api_headers):
    headers = api_headers("admin")
    payloads = [
        None,
        "",
        "null",
        "[]",
        "{}",
        '{"name": null}',
        '{"name": 1e999}',
        "\x00\xff",
        '{"a":' * 50,
    ]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = (
            rule.rule.replace("<int:token_id>", "1")
            .replace("<int:user_id>", "1")
            .replace("<int:job_id>", "1")
        )
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            for payload in payloads:
                response = client.open(
                    path,
                    method=method,
                    data=payload,
                    headers=headers,
                    content_type="application/json",
                )
                assert response.status_code < 500, (
                    method,
                    path,
                    payload,
                    response.get_data(as_text=True),
                )


def test_an_unexpected_error_is_500_json_with_the_request_id(app, client, api_headers):
    from disaster_ai.api.core import bp  # noqa: F401

    @app.get("/api/v1/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = client.get(
        "/api/v1/boom", headers={**api_headers("admin"), "X-Request-ID": "req-42"}
    )
    error = assert_error(response, 500, "internal_error")
    assert "req-42" in error["message"] and "kaboom" not in error["message"]
    assert response.headers["X-Request-ID"] == "req-42"


def test_openapi_document_is_valid_and_covers_every_route(app, client):
    from openapi_spec_validator import validate

    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    routes = {rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")}
    assert len(spec["paths"]) == len(routes)
    create_user = spec["paths"]["/api/v1/users"]["post"]
    assert create_user["x-required-permission"] == "admin.users"
    assert "UserIn" in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["UserIn"]["properties"]["role"]["enum"] == [
        "operator",
        "approver",
        "admin",
    ]
    assert client.get("/api/v1/docs").status_code == 200


def test_every_operation_that_can_answer_409_documents_it_with_the_error_schema(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    conflicts = {
        ("/api/v1/users", "post"),
        ("/api/v1/users/{user_id}", "patch"),
        ("/api/v1/jobs/{job_id}/retry", "post"),
        ("/api/v1/notices/drafts", "post"),
        ("/api/v1/notices", "post"),
        ("/api/v1/notices/{notice_id}/submit", "post"),
        ("/api/v1/notices/{notice_id}/approve", "post"),
        ("/api/v1/notices/{notice_id}/issue", "post"),
        ("/api/v1/notices/{notice_id}/cancel", "post"),
        ("/api/v1/notices/{notice_id}/polish", "post"),
        ("/api/v1/incidents/{incident_id}", "patch"),
        ("/api/v1/incidents/{incident_id}/merge", "post"),
        ("/api/v1/events/{event_id}/close", "post"),
        ("/api/v1/events/{event_id}/schedules", "post"),
        ("/api/v1/events/{event_id}/bulletins", "post"),
        ("/api/v1/schedules/{schedule_id}", "patch"),
        ("/api/v1/calls/{call_id}/confirm", "post"),
    }
    for path, method in sorted(conflicts):
        response = spec["paths"][path][method]["responses"].get("409")
        assert response, f"{method.upper()} {path} does not document 409"
        schema = response["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, path


def test_a_conflict_answers_with_its_documented_409(client, api_headers):
    headers = api_headers("admin")
    body = {"username": "operator", "role": "operator", "password": "long-enough-pass"}
    response = client.post("/api/v1/users", json=body, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["error"]["details"]["fields"] == {"username": "username_taken"}
