"""One test per bulletin hook (the meta-tests in tests/test_hooks.py look for these names)."""

from __future__ import annotations

import pytest
from bulletin_helpers import T0, audit_actions, bulletin_rows

from disaster_ai import hookimpl
from disaster_ai.apps.bulletins import render, service
from disaster_ai.apps.bulletins.types import BulletinSection, DeliveryResult

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def issue_and_text(app, event_id: int) -> str:
    result = service.issue_bulletin(app, event_id, with_map=False)
    (bulletin,) = [b for b in bulletin_rows(app) if b.id == result.bulletin_id]
    return render.render_text(bulletin.snapshot)


def test_hook_dai_bulletin_sections(app, event, register_plugin):
    seen = []

    class RiverGauges:
        @hookimpl
        def dai_bulletin_sections(self, context):
            seen.append(context)
            return [
                BulletinSection(
                    "河川水位",
                    body="焼津市内の観測所",
                    items=("瀬戸川 藤枝 2.10m", "朝比奈川 1.05m"),
                )
            ]

    class Broken:
        @hookimpl
        def dai_bulletin_sections(self, context):
            raise RuntimeError("gauge feed down")

    register_plugin(RiverGauges(), name="river_gauges")
    register_plugin(Broken(), name="broken_sections")
    text = issue_and_text(app, event["id"])
    # after the core sections and those of the reports app (被害の集計, 避難所別の避難者数)
    assert "\n8 河川水位\n焼津市内の観測所\n・瀬戸川 藤枝 2.10m\n・朝比奈川 1.05m" in text
    assert "（broken_sections の項目は作成できなかったため省略しました）" in text
    (context,) = seen
    assert (context.event_name, context.issued_at) == ("令和8年台風第10号", T0.isoformat())
    assert context.since == T0.isoformat()  # the first bulletin counts from the event's opening
    assert context.situation["available"] is True
    (failure,) = audit_actions(app, "bulletins.section_failed")
    assert failure.target == "plugin:broken_sections"
    assert "gauge feed down" in failure.detail["error"]


def test_hook_dai_notices_in_force(app, event, register_plugin):
    # The core notices app implements the hook: nothing issued yet reads as "none in force".
    assert "・発令中の避難情報はありません。" in issue_and_text(app, event["id"])
    asked = []

    class Notices:
        @hookimpl
        def dai_notices_in_force(self, at):
            asked.append(at)
            return [
                {
                    "district_key": "d-2",
                    "district_name": "大富地区",
                    "level": 4,
                    "name": "避難指示",
                    "hazard": "landslide",
                    "issued_at": "2026-09-05T04:30:00+09:00",
                },
                # a legacy wording from the provider never reaches the bulletin: the name is fixed by level
                {
                    "district_key": "d-1",
                    "district_name": "焼津地区",
                    "level": 5,
                    "name": "避難勧告",
                    "hazard": "inland_flood",
                    "issued_at": "2026-09-05T04:50:00+09:00",
                },
                {
                    "district_key": "d-3",
                    "district_name": "港地区",
                    "level": 2,
                    "name": "?",
                    "hazard": "",
                    "issued_at": None,
                },
            ]

    register_plugin(Notices(), name="notices_provider")
    text = issue_and_text(app, event["id"])
    assert asked == [T0]
    section = text.split("1 発令中の避難情報\n")[1].split("\n\n")[0]
    assert section.splitlines() == [
        "・【警戒レベル5】緊急安全確保（内水氾濫） 焼津地区 令和8年9月5日 4時50分発令",
        render.DIVIDER,
        "・【警戒レベル4】避難指示（土砂災害） 大富地区 令和8年9月5日 4時30分発令",
        "・一部の避難情報を取得できませんでした。発令状況は本部で確認してください。",
    ]
    assert "避難勧告" not in text


def test_hook_dai_deliver_bulletin(app, event, register_plugin, jobs):
    sent = []

    class LAlert:
        @hookimpl
        def dai_deliver_bulletin(self, bulletin, channel):
            if channel.kind != "lalert":
                return None
            sent.append((bulletin, channel))
            return DeliveryResult(True, "uploaded", "commons.example.lg.jp", external=True)

    app.config["BULLETIN_DELIVERY_TARGETS"] = [
        {"channel": "lalert", "target": "yaizu-commons", "region": "22212"},
        {"channel": "fax", "target": "054-000-0000"},
    ]
    register_plugin(LAlert(), name="lalert")
    result = service.issue_bulletin(app, event["id"], with_map=False)
    jobs()
    (bulletin, channel) = sent[0]
    assert (channel.kind, channel.target, channel.options) == (
        "lalert",
        "yaizu-commons",
        {"region": "22212"},
    )
    assert bulletin.number == 1 and bulletin.title.endswith("（第1報）")
    assert bulletin.pdf.startswith(b"%PDF") and bulletin.document["bulletin"]["number"] == 1
    from disaster_ai.storage import get_storage, session_scope

    with session_scope(get_storage(app)) as session:
        states = {
            d.channel: (d.state, d.last_error)
            for d in service.deliveries_of(session, result.bulletin_id)
        }
    assert states["lalert"] == ("delivered", None)
    # nobody delivers fax: the core default returns None for it, so every attempt fails
    assert (
        states["fax"][0] == "failed" and "no plugin delivers the channel 'fax'" in states["fax"][1]
    )
    delivered = [a for a in audit_actions(app, "bulletins.delivered")]
    assert (
        delivered[0].detail["host"] == "commons.example.lg.jp" and delivered[0].detail["external"]
    )


def test_hook_dai_bulletin_situation(app, event, register_plugin):
    from disaster_ai import hookimpl as impl

    asked = []

    class Quiet:  # asked first, answers nothing: the situation app's answer is used
        @impl(tryfirst=True)
        def dai_bulletin_situation(self, session, hazard, since, now, with_map):
            asked.append((hazard, since.isoformat(), now.isoformat(), with_map))
            return None

    later = []

    class Later:  # asked after the situation app, which answers: never called (no work twice)
        @impl(trylast=True)
        def dai_bulletin_situation(self, session, hazard, since, now, with_map):
            later.append(hazard)
            return {"available": True}, None

    register_plugin(Quiet(), name="quiet_situation")
    register_plugin(Later(), name="later_situation")
    first = service.issue_bulletin(app, event["id"], with_map=False)
    (row,) = [b for b in bulletin_rows(app) if b.id == first.bulletin_id]
    assert row.snapshot["situation"]["available"] is True  # from the situation app
    assert "incidents" in row.snapshot["situation"]
    assert asked == [("inland_flood", T0.isoformat(), T0.isoformat(), False)]
    assert later == []

    class Broken:
        @impl(tryfirst=True)
        def dai_bulletin_situation(self, session, hazard, since, now, with_map):
            raise RuntimeError("analysis down")

    register_plugin(Broken(), name="broken_situation")
    second = service.issue_bulletin(app, event["id"], with_map=False)
    (row,) = [b for b in bulletin_rows(app) if b.id == second.bulletin_id]
    # a failing implementation is skipped: the situation app still answers
    assert row.snapshot["situation"]["available"] is True

    from disaster_ai.apps import situation

    pm = app.extensions["disaster_ai"]
    pm.unregister(situation)  # no situation app, no other answer: the broken one alone
    pm.unregister(name="later_situation")
    third = service.issue_bulletin(app, event["id"], with_map=False)
    (row,) = [b for b in bulletin_rows(app) if b.id == third.bulletin_id]
    # the bulletin is issued all the same, its situation marked unavailable with the reason
    assert row.snapshot["situation"]["available"] is False
    assert "broken_situation" in row.snapshot["situation"]["error"]
    assert "analysis down" in row.snapshot["situation"]["error"]
    assert "状況データを取得できませんでした" in render.render_text(row.snapshot)
