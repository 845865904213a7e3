"""The 被害状況 bulletin gains the tally and the evacuees per shelter (this app's sections), keeps
actual damage apart from hazard-zone exposure (「想定区域内の人口（推計）」, never 人的被害) and
prints no internal codes."""

from __future__ import annotations

import pytest
from report_helpers import cli

from disaster_ai.apps.bulletins import render, service


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_the_bulletin_carries_the_tally_and_the_evacuees(app, runner, event):
    cli(
        runner, "reports", "tally", "--event", str(event["id"]),
        "--set", "住家被害.床上浸水.棟=12", "--set", "人的被害.死者=0",
        "--unconfirmed", "人的被害.行方不明者", "--set", "その他.道路=3",
    )  # fmt: skip
    cli(
        runner,
        "reports",
        "shelter",
        "designated-1",
        "--open",
        "--people",
        "40",
        "--households",
        "15",
    )
    result = service.issue_bulletin(app, event["id"], with_map=False)
    from disaster_ai.apps.bulletins.models import Bulletin
    from disaster_ai.storage import get_storage, session_scope

    with session_scope(get_storage(app)) as session:
        snap = session.get(Bulletin, result.bulletin_id).snapshot
    text = render.render_text(snap)
    damage = text.split("被害の集計（確認された被害）\n")[1].split("\n\n")[0]
    assert "・人的被害 死者：0人" in damage
    assert "・人的被害 行方不明者（不明）：未確認" in damage
    assert "・住家被害 床上浸水（棟）：12棟" in damage
    assert "・住家被害 全壊（棟）：未確認" in damage  # key figures show even when not known
    assert "・その他 道路：3箇所" in damage
    shelters = text.split("避難所別の避難者数\n")[1].split("\n\n")[0]
    assert "開設 1か所、避難者 40人、15世帯（うち要配慮者 未確認）" in shelters
    assert "・二区コミュニティ防災センター：40人・15世帯・要配慮者未確認" in shelters

    exposure = text.split("4 想定区域内の人口（推計）\n")[1].split("\n\n")[0]
    assert "被害の数ではありません" in exposure
    assert "人的被害" not in exposure and "おそれ" not in text.split("\n5 ")[0].split("\n4 ")[1]
    assert "census2015" not in text and "points_in_polygon" not in text
    assert "平成27年国勢調査" in exposure  # the source, in words
    html = render.render_html(snap, None)
    assert "4 想定区域内の人口（推計）" in html and "人的被害のおそれ" not in html
    assert "census2015" not in html
    assert "被害の集計（確認された被害）" in html


def test_source_labels_drop_internal_codes():
    assert (
        render.source_label("census2015_points_in_polygon: 平成27年国勢調査 小地域")
        == "平成27年国勢調査 小地域"
    )
    assert render.source_label("census2015_points_in_polygon") == "地区の人口データ"
    assert (
        render.source_label("令和2年国勢調査（総務省統計局）") == "令和2年国勢調査（総務省統計局）"
    )
