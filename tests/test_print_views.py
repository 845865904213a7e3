"""Print views (A4, black on white): the 防災無線 script in large type, a notice with every
channel, the incident list with the list's filters, the bulletin's A4 document; each reached
by a 印刷 link from its page."""

from __future__ import annotations

from pathlib import Path

import pytest

from disaster_ai.config import REPO_ROOT

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
PRINT_CSS = Path(REPO_ROOT) / "disaster_ai" / "web" / "static" / "print.css"


def test_the_print_stylesheet_is_a4_black_on_white_without_the_desk_chrome():
    css = PRINT_CSS.read_text(encoding="utf-8")
    assert "@page { size: A4 portrait;" in css
    assert "html { background: #fff; color: #000;" in css
    assert ".radio-script .script { font-size: 22pt;" in css
    assert "@media print {\n  .print-tools { display: none; }" in css


@sqlite_only
def test_notice_print_views_carry_the_radio_script_and_every_channel(
    app, yaizu, client, login, api_headers
):
    created = client.post(
        "/api/v1/notices",
        json={
            "hazard": "inland_flood",
            "action": "発令",
            "level": 4,
            "districts": ["高新田自治会"],
            "reason": "大雨により、道路や住宅が浸水するおそれが高まっています。",
            "issued_at": "2026-07-01T20:05:00+09:00",
        },
        headers=api_headers("operator"),
    )
    assert created.status_code == 201, created.get_json()
    notice = created.get_json()
    login("operator")
    page = client.get(f"/apps/notices/{notice['id']}").get_data(as_text=True)
    assert f'href="/apps/notices/{notice["id"]}/print/radio"' in page
    assert f'href="/apps/notices/{notice["id"]}/print"' in page

    radio = client.get(f"/apps/notices/{notice['id']}/print/radio")
    html = radio.get_data(as_text=True)
    assert radio.status_code == 200 and 'class="print-view radio-script"' in html
    assert "print.css" in html and "desk.css" not in html  # no desk chrome on paper
    script_lines = [line for line in notice["texts"]["radio"].splitlines() if line.strip()]
    assert script_lines and all(f"<p>{line.strip()}</p>" in html for line in script_lines[:3])
    assert "data-print" in html and "防災行政無線 放送文" in html

    full = client.get(f"/apps/notices/{notice['id']}/print").get_data(as_text=True)
    for channel in ("radio", "mail", "web_long", "web_short", "en", "easy_ja"):
        assert f'data-channel="{channel}"' in full
    assert notice["texts"]["mail"]["title"] in full and "高新田自治会" in full
    assert client.get("/apps/notices/999999/print").status_code == 404


@sqlite_only
def test_the_incident_list_prints_with_its_filters(app, yaizu, client, login, api_headers):
    for category, life in (("inundation", True), ("fire", False)):
        response = client.post(
            "/api/v1/incidents",
            json={"category": category, "life_threat": life, "lon": 138.3, "lat": 34.87},
            headers=api_headers("operator"),
        )
        assert response.status_code == 201, response.get_json()
    login("operator")
    listing = client.get("/apps/situation/incidents?category=inundation").get_data(as_text=True)
    assert 'href="/apps/situation/incidents/print?category=inundation"' in listing
    page = client.get("/apps/situation/incidents/print?category=inundation")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "print.css" in html
    assert "浸水" in html and "火災" not in html.split("<tbody>")[1]
    assert "【命の危険】" in html
    everything = client.get("/apps/situation/incidents/print").get_data(as_text=True)
    assert everything.split("<tbody>")[1].count("<tr>") == 2
    assert client.get("/apps/situation/incidents/print?since=yesterday").status_code == 422
