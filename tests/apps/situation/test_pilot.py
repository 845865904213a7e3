"""The pilot path of docs/pilot.md, through the command line, for each pilot kit (national open
data only, tests/fixtures/pilot): init with the municipality and its N03 outline, the GSI
shelters, the Geolonia town points, provisional districts, an exercise notice draft. The CAP
must validate against the OASIS schema and carry the town's JIS code; nothing may mention the
bundled sample town; 出典 lists every loaded layer's credit once."""

from __future__ import annotations

import json
import time

import pytest
from lxml import etree

from disaster_ai.config import REPO_ROOT

PILOT = REPO_ROOT / "tests" / "fixtures" / "pilot"
XSD = REPO_ROOT / "disaster_ai" / "schemas" / "CAP-v1.2.xsd"
CAP = {"c": "urn:oasis:names:tc:emergency:cap:1.2"}
sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)

KITS = {
    "ichinomiya": {
        "code": "232033",
        "jis": "23203",
        "name": "一宮市",
        "counts": {"shelters": 241, "places": 2929, "districts": 420},
        "scenario": {"hazard": "flood", "districts": ["相生一丁目", "奥町"]},
        "suggested": 2,  # the nearest 洪水 emergency site of each district
    },
    "misato": {
        "code": "美郷町",
        "prefecture": "秋田県",
        "jis": "05434",
        "name": "美郷町",
        "counts": {"shelters": 67, "places": 86, "districts": 24},
        "scenario": {"hazard": "flood", "districts": ["六郷", "金沢"]},
        "suggested": 0,  # no site in the town is designated for 洪水
    },
}
SAMPLE_WORDS = ("焼津", "Yaizu", "yaizu", "init --sample")


def run(runner, *args):
    result = runner.invoke(list(args))
    assert result.exit_code == 0, (args, result.output)
    return result.output


@sqlite_only
@pytest.mark.parametrize("kit", list(KITS))
def test_the_pilot_path_from_zero_to_an_exercise_notice(kit, runner, tmp_path):
    spec, folder = KITS[kit], PILOT / kit
    started = time.perf_counter()
    init = ["init", "--municipality", spec["code"], "--boundary", str(next(folder.glob("n03_*")))]
    if "prefecture" in spec:
        init += ["--prefecture", spec["prefecture"]]
    profile = json.loads(run(runner, *init, "--json"))["municipality"]
    assert (profile["name"], profile["jis_code"], profile["boundary"]) == (
        spec["name"],
        spec["jis"],
        True,
    )
    shelters = json.loads(
        run(
            runner,
            "geo", "import", "shelters",
            str(next(folder.glob("gsi_emergency_sites_*.csv"))),
            str(next(folder.glob("gsi_designated_shelters_*.csv"))),
            "--json",
        )
    )  # fmt: skip
    assert [f["mapping"] for f in shelters["report"]["files"]] == [
        "gsi_emergency_sites",
        "gsi_shelters",
    ]
    places = json.loads(
        run(runner, "geo", "import", "places", str(next(folder.glob("geolonia_*"))), "--json")
    )
    districts = json.loads(run(runner, "geo", "derive-districts", "--json"))
    counts = {
        "shelters": shelters["feature_count"],
        "places": places["feature_count"],
        "districts": districts["feature_count"],
    }
    assert counts == spec["counts"]
    assert districts["report"]["with_reading"] == spec["counts"]["districts"]

    scenario = {
        **spec["scenario"],
        "action": "発令",
        "level": 4,
        "reason": "河川の水位が上昇し、氾濫するおそれが高まっています。",
        "exercise": True,
    }
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario, ensure_ascii=False), encoding="utf-8")
    draft = json.loads(run(runner, "notices", "draft", str(path), "--json"))
    elapsed = time.perf_counter() - started
    assert elapsed < 120, elapsed  # the CLI part of the 30-minute pilot path

    root = etree.fromstring(draft["cap"].encode("utf-8"))
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(root), schema.error_log
    assert root.findtext("c:status", namespaces=CAP) == "Exercise"
    assert root.findtext("c:identifier", namespaces=CAP).startswith(f"JP-{profile['lg_code']}-")
    geocodes = root.findall(".//c:area/c:geocode", CAP)
    assert geocodes and {g.findtext("c:value", namespaces=CAP) for g in geocodes} == {spec["jis"]}
    assert f"こちらは、{spec['name']}です。" in draft["radio"] and "訓練" in draft["radio"]
    assert len(draft["shelters"]) == spec["suggested"]
    if not spec["suggested"]:
        assert "no_shelter_for_hazard" in draft["warnings"]

    text = run(runner, "situation", "--text", "--hazard", "flood")
    assert "出典：出典：" not in text
    credit = text.strip().splitlines()[-1]
    assert credit.startswith("出典：")
    for part in ("国土地理院", "Geolonia", "国土数値情報（行政区域データ）"):
        assert credit.count(part) == 1, (part, credit)
    assert "区域の内か外かは判定していません" in text and "想定区域外" not in text
    everything = json.dumps(draft, ensure_ascii=False) + text
    for word in SAMPLE_WORDS:
        assert word not in everything, word
