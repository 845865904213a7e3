"""Risk sheets (#20): the shipped sheets side by side, a plugin's sheet, a feature without one
flagged, Markdown and PDF exports. Pinned to SQLite."""

from __future__ import annotations

import pytest

from disaster_ai import hookimpl
from disaster_ai.types import AIComponent

pytestmark = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)

SHEET = """
feature = "river.forecast"
title_ja = "河川水位の予測"
title_en = "River level forecast"
[users]
answer_ja = "防災担当職員のみ"
[work]
answer_ja = "避難判断の参考"
higher_risk = true
[training]
answer_ja = "公開の水位データのみで学習"
[human_review]
answer_ja = "職員が観測値と照合する"
"""


class Unassessed:
    @hookimpl
    def dai_ai_components(self, app):
        return [AIComponent(id="chat.summary", engine="x", model="y", features=("chat.summary",))]


class Assessed:
    def __init__(self, path):
        self.path = path

    @hookimpl
    def dai_ai_components(self, app):
        return [
            AIComponent(id="river.forecast", engine="x", model="y", features=("river.forecast",))
        ]

    @hookimpl
    def dai_ai_risk_sheets(self):
        return [str(self.path)]


def test_a_feature_without_a_risk_sheet_is_flagged(app, client, login, register_plugin):
    login("admin")
    page = client.get("/apps/governance/risk").get_data(as_text=True)
    for feature in ("calls.transcription", "calls.triage", "notices.polish"):
        assert f'data-feature="{feature}"' in page
    assert 'id="risk-missing"' not in page  # every shipped feature has its sheet
    assert "通報音声の文字起こし" in page and "利用者" in page

    register_plugin(Unassessed(), name="chat")
    page = client.get("/apps/governance/risk").get_data(as_text=True)
    flag = page.split('id="risk-missing"', 1)[1].split("</p>", 1)[0]
    assert "chat.summary" in flag
    assert 'data-missing="chat.summary"' in page
    markdown = client.get("/apps/governance/risk.md").get_data(as_text=True)
    assert "chat.summary" in markdown and "リスクシートがありません" in markdown
    assert "| 利用者 |" in markdown


def test_hook_dai_ai_risk_sheets(app, client, login, register_plugin, tmp_path, runner):
    path = tmp_path / "river.toml"
    path.write_text(SHEET, encoding="utf-8")
    register_plugin(Assessed(path), name="river_feed")
    login("admin")
    page = client.get("/apps/governance/risk").get_data(as_text=True)
    assert "河川水位の予測" in page and 'id="risk-missing"' not in page
    assert "公開の水位データのみで学習" in page
    english = client.get("/apps/governance/risk.md?lang=en").get_data(as_text=True)
    assert "River level forecast" in english
    # a sheet missing a viewpoint is reported, not shown
    path.write_text(SHEET.split("[human_review]")[0], encoding="utf-8")
    page = client.get("/apps/governance/risk").get_data(as_text=True)
    assert "human_review" in page and 'data-missing="river.forecast"' in page
    result = runner.invoke(["ai", "risk-sheets"])
    assert "river.forecast" in result.output


def test_the_risk_sheets_print_as_pdf(app, client, login):
    login("admin")
    response = client.get("/apps/governance/risk.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
