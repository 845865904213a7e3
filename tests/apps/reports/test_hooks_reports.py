"""The reports app's own hook (dai_report_items) and the item file a municipality adds."""

from __future__ import annotations

import pytest
from report_helpers import cli, cli_json

from disaster_ai import hookimpl
from disaster_ai.apps.reports.items import ItemError, ReportItem, build_catalogue

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


@sqlite_only
def test_hook_dai_report_items(app, runner, event, register_plugin, tmp_path):
    class Prefecture:
        @hookimpl
        def dai_report_items(self):
            return [
                ReportItem("その他.停電地区", unit="地区", note="電力会社の停電情報から"),
                {
                    "path": "人的被害.死者",
                    "unit": "人",
                    "forms": ["その1", "その2"],
                    "label": "死者（確認済み）",
                },
            ]

    register_plugin(Prefecture(), name="prefecture_items")
    app.extensions.pop("disaster_ai.reports.items", None)  # items are read once: read again
    items = {i["path"]: i for i in cli_json(runner, "reports", "items")}
    assert items["その他.停電地区"]["unit"] == "地区"
    assert items["その他.停電地区"]["origin"] == "plugin prefecture_items"
    order = list(items)
    assert order.index("その他.停電地区") == order.index("その他.被害船舶") + 1  # end of its group
    cli(runner, "reports", "tally", "--event", str(event["id"]), "--set", "その他.停電地区=4")
    cli(
        runner,
        "reports",
        "issue",
        "--event",
        str(event["id"]),
        "--format",
        "csv",
        "--out",
        str(tmp_path / "r.csv"),
    )
    rows = (tmp_path / "r.csv").read_text(encoding="utf-8-sig").splitlines()
    assert "その他.停電地区,4,地区,確定" in rows
    cli(runner, "reports", "export", "1", "--format", "txt", "--out", str(tmp_path / "r.txt"))
    assert "停電地区：4地区" in (tmp_path / "r.txt").read_text(encoding="utf-8")


@sqlite_only
def test_a_municipality_file_adds_and_replaces_items(make_app, tmp_path):
    (tmp_path / "instance").mkdir(exist_ok=True)
    (tmp_path / "instance" / "pref_items.toml").write_text(
        """
[[items]]
path = "避難所.福祉避難所数"
unit = "か所"
forms = ["その2"]

[[items]]
path = "田.冠水"
unit = "ha"
kind = "decimal"
label = "田の冠水"

[[proposals]]
category = "inundation"
item = "住家被害.床上浸水.棟"
""",
        encoding="utf-8",
    )
    app = make_app(REPORT_ITEMS_FILES=["pref_items.toml"])
    from disaster_ai.apps.reports.items import catalogue_for

    catalogue = catalogue_for(app)
    paths = [i.path for i in catalogue.items]
    assert paths.index("避難所.福祉避難所数") == paths.index("避難所.要配慮者数") + 1
    assert catalogue.get("田.冠水").label == "田の冠水"
    assert paths.count("田.冠水") == 1
    assert catalogue.rule_for("inundation").item == "住家被害.床上浸水.棟"


@sqlite_only
def test_a_broken_item_file_disables_the_reports_app_with_the_reason(make_app, tmp_path):
    (tmp_path / "instance").mkdir(exist_ok=True)
    (tmp_path / "instance" / "bad.toml").write_text(
        '[[items]]\npath = "り災率"\nsum = ["住家被害.全焼.棟"]\n', encoding="utf-8"
    )
    app = make_app(REPORT_ITEMS_FILES=["bad.toml"])
    failed = app.extensions["disaster_ai"].failed["disaster_ai.apps.reports"]
    assert "住家被害.全焼.棟" in failed.error


def test_item_definitions_are_checked(tmp_path):
    cases = [
        ('[[items]]\npath = "a.b"\nkind = "photo"\n', "kind"),
        ('[[items]]\npath = "a..b"\n', "path"),
        ('[[items]]\npath = "a.b"\nforms = ["その3"]\n', "forms"),
        ('[[items]]\npath = "a.b"\ncolour = "red"\n', "colour"),
        ('[[items]]\npath = "a.b"\nkind = "text"\nsum = ["人的被害.死者"]\n', "sum"),
        ('[[items]]\npath = "a.b"\nsum = ["概況.発生場所"]\n', "概況.発生場所"),
        ("[[items]\n", "TOML"),
        ('[[proposals]]\ncategory = "fire"\nitem = "概況.発生場所"\n', "概況.発生場所"),
    ]
    for number, (text, named) in enumerate(cases):
        path = tmp_path / f"items-{number}.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ItemError) as refused:
            build_catalogue([path])
        assert named in refused.value.message, (text, refused.value.message)
