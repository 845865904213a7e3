"""A hazard a plugin adds for notices only (``dai_notice_hazards``) is named by the one hazard
registry (disaster_ai/hazards.py) everywhere: the notice form, the map and its legend, the
bulletin."""

from __future__ import annotations

import pytest
from bulletin_helpers import bulletin_rows

from disaster_ai import hazards, hookimpl, levels
from disaster_ai.types import NoticeHazard

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


class Pond:
    """A municipality's hazard for notices only: the registry takes it from the notices app."""

    @hookimpl
    def dai_notice_hazards(self):
        return [
            NoticeHazard(
                code="pond_breach",
                ja="ため池決壊",
                en="irrigation pond breach",
                easy_ja="ため池決壊(ためいけの ていぼうが こわれる こと)",
                reasons=("ため池の堤体から漏水が確認され、決壊するおそれがあります。",),
                zone_hazard="inland_flood",
            )
        ]

    @hookimpl
    def dai_notices_in_force(self, at):
        return [
            {
                "district_key": "d-9",
                "district_name": "池の上地区",
                "level": 4,
                "hazard": "pond_breach",
                "issued_at": "2026-09-05T04:30:00+09:00",
            }
        ]


def test_a_plugin_hazard_is_named_in_the_form_the_map_and_the_bulletin(
    app, client, login, register_plugin, clock
):
    from disaster_ai.apps.bulletins import render, service
    from disaster_ai.apps.situation.web import district_levels

    register_plugin(Pond(), name="pond_hazards")
    with app.app_context():
        assert hazards.label("pond_breach", "ja") == "ため池決壊"
        assert hazards.label("pond_breach", "en") == "Irrigation pond breach"
        # the map: the district's label and colour, which its legend lists
        district = district_levels()["d-9"]
        assert district["notice_label"] == "警戒レベル4 避難指示 (ため池決壊)"
        assert district["notice_fill"] == levels.LEVELS[4].fill
    # the notice form offers it
    login("operator")
    form = client.get("/apps/notices").get_data(as_text=True)
    assert '<option value="pond_breach"' in form and "ため池決壊" in form
    # the bulletin names it, and the event may be opened for it
    event = service.open_event(app, "ため池の漏水", hazard="pond_breach")
    result = service.issue_bulletin(app, event["id"], with_map=False)
    (bulletin,) = [b for b in bulletin_rows(app) if b.id == result.bulletin_id]
    text = render.render_text(bulletin.snapshot)
    assert "【警戒レベル4】避難指示（ため池決壊） 池の上地区" in text
