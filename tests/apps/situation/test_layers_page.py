"""The desk page for layer versions: import from the UI, errors next to the field, rollback."""

import io

import pytest
from sqlalchemy import select

from disaster_ai.apps.situation.models import GeoLayerVersion
from disaster_ai.storage import get_storage, session_scope
from disaster_ai.testing import csrf_token_from

SQLITE = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)

PLACES_CSV = "name,lat,lon\n本町一丁目,34.8650,138.3190\n本町二丁目,34.8660,138.3200\n".encode()


def versions(app, layer):
    with session_scope(get_storage(app)) as session:
        rows = session.execute(
            select(GeoLayerVersion.version, GeoLayerVersion.active, GeoLayerVersion.feature_count)
            .where(GeoLayerVersion.layer == layer)
            .order_by(GeoLayerVersion.version)
        ).all()
        return [tuple(r) for r in rows]


def upload(client, **fields):
    token = csrf_token_from(client.get("/apps/situation/layers").get_data(as_text=True))
    data = {"csrf_token": token, **fields}
    return client.post("/apps/situation/layers", data=data, content_type="multipart/form-data")


@SQLITE
def test_an_admin_imports_a_csv_and_rolls_back_from_the_page(app, client, login, yaizu):
    login("admin")
    page = client.get("/apps/situation/layers").get_data(as_text=True)
    assert "v1" in page and 'name="files"' in page
    response = upload(client, layer="places", files=(io.BytesIO(PLACES_CSV), "places.csv"))
    assert response.status_code == 302
    assert versions(app, "places") == [(1, False, 141), (2, True, 2)]
    token = csrf_token_from(client.get("/apps/situation/layers").get_data(as_text=True))
    back = client.post(
        "/apps/situation/layers/places/versions/1/activate", data={"csrf_token": token}
    )
    assert back.status_code == 302
    assert versions(app, "places") == [(1, True, 141), (2, False, 2)]


@SQLITE
def test_a_bad_file_is_refused_next_to_the_field_and_nothing_changes(app, client, login, yaizu):
    login("admin")
    broken = io.BytesIO(b"name,lat,lon\nA,not-a-number,138.3\n")
    response = upload(client, layer="places", mapping="", files=(broken, "broken.csv"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'role="alert"' in html and "broken.csv" in html
    assert 'value="places" selected' in html  # the choice is kept
    assert versions(app, "places") == [(1, True, 141)]
    missing = upload(client, layer="places")
    assert missing.status_code == 422 and versions(app, "places") == [(1, True, 141)]


@SQLITE
def test_operators_see_the_versions_but_cannot_import(app, client, login, yaizu):
    login("operator")
    page = client.get("/apps/situation/layers")
    assert page.status_code == 200 and 'name="files"' not in page.get_data(as_text=True)
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    response = client.post(
        "/apps/situation/layers",
        data={"csrf_token": token, "layer": "places", "files": (io.BytesIO(PLACES_CSV), "p.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 403 and versions(app, "places") == [(1, True, 141)]
