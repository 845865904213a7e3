"""One way to call hooks (disaster_ai.plugins.call_each): pluggy's order, tryfirst and trylast
included, one implementation at a time so that a failure hides no other."""

from __future__ import annotations

import logging

import pytest

from disaster_ai import hookimpl
from disaster_ai.plugins import call_each, impls_in_call_order, safe_collect
from disaster_ai.types import MenuItem

sqlite_only = pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)


def menu_plugin(label: str, fail: bool = False, **marks):
    class Plugin:
        @hookimpl(**marks)
        def dai_desk_menu_items(self, actor, request):
            if fail:
                raise RuntimeError(f"{label} is down")
            return [MenuItem(label, f"/{label}")]

    return Plugin()


@sqlite_only
def test_collectors_follow_pluggys_order_with_tryfirst_and_trylast(app, register_plugin):
    register_plugin(menu_plugin("last", trylast=True), name="last")
    register_plugin(menu_plugin("older"), name="older")
    register_plugin(menu_plugin("first", tryfirst=True), name="first")
    register_plugin(menu_plugin("newer"), name="newer")
    pm = app.extensions["disaster_ai"]
    order = [o.plugin for o in call_each(pm, "dai_desk_menu_items", actor=None, request=None)]
    assert order == ["first", "newer", "older", "last"]
    # the same order pluggy itself uses for a plain hook call
    plain = pm.hook.dai_desk_menu_items(actor=None, request=None)
    assert [items[0].label for items in plain] == order
    labels = [i.label for i in safe_collect(pm, "dai_desk_menu_items", actor=None, request=None)]
    assert labels == order
    assert [i.plugin_name for i in impls_in_call_order(pm, "dai_desk_menu_items")] == order


@sqlite_only
def test_one_failing_implementation_is_reported_and_hides_no_other(app, register_plugin, caplog):
    register_plugin(menu_plugin("before"), name="before")
    register_plugin(menu_plugin("broken", fail=True), name="broken")
    register_plugin(menu_plugin("after", tryfirst=True), name="after")
    pm = app.extensions["disaster_ai"]
    with caplog.at_level(logging.ERROR):
        outcomes = call_each(pm, "dai_desk_menu_items", actor=None, request=None)
    assert [(o.plugin, o.error is None) for o in outcomes] == [
        ("after", True),
        ("broken", False),
        ("before", True),
    ]
    assert str(outcomes[1].error) == "broken is down"
    assert "plugin broken failed in dai_desk_menu_items; skipped" in caplog.messages


@sqlite_only
def test_wrappers_wrap_each_single_call(app, register_plugin):
    seen = []

    class Timing:
        @hookimpl(wrapper=True)
        def dai_desk_menu_items(self):
            result = yield
            seen.append([item.label for items in result for item in items])
            return result

    register_plugin(menu_plugin("a"), name="a")
    register_plugin(menu_plugin("b"), name="b")
    register_plugin(Timing(), name="timing")
    pm = app.extensions["disaster_ai"]
    outcomes = call_each(pm, "dai_desk_menu_items", actor=None, request=None)
    assert [o.plugin for o in outcomes if o.plugin in ("a", "b")] == ["b", "a"]
    assert ["b"] in seen and ["a"] in seen  # one wrapped call per implementation


@sqlite_only
def test_per_plugin_arguments_reach_only_their_plugin(app, register_plugin):
    got = {}

    def reader(name):
        class Plugin:
            @hookimpl
            def dai_desk_menu_items(self, actor, request):
                got[name] = actor
                return []

        return Plugin()

    register_plugin(reader("x"), name="x")
    register_plugin(reader("y"), name="y")
    pm = app.extensions["disaster_ai"]
    call_each(pm, "dai_desk_menu_items", request=None, per_plugin=lambda n: {"actor": f"for-{n}"})
    assert got == {"x": "for-x", "y": "for-y"}


@sqlite_only
def test_template_variables_of_the_first_called_implementation_win(
    app, client, login, register_plugin
):
    def values(name, **marks):
        class Plugin:
            @hookimpl(**marks)
            def dai_extra_template_vars(self, template, request):
                return {"municipality_name": name}

        return Plugin()

    register_plugin(values("後で登録"), name="newer_plain")
    register_plugin(values("先に呼ばれる", tryfirst=True), name="first")
    login("operator")
    page = client.get("/").get_data(as_text=True)
    assert "先に呼ばれる" in page and "後で登録" not in page


@sqlite_only
def test_the_hazard_of_the_first_called_plugin_wins(app, register_plugin):
    from disaster_ai.apps.notices import facts
    from disaster_ai.types import NoticeHazard

    def hazard_plugin(word, **marks):
        class Plugin:
            @hookimpl(**marks)
            def dai_notice_hazards(self):
                return [NoticeHazard("volcano", word, "volcanic eruption", "かざん")]

        return Plugin()

    # the same code from two plugins: the one called first (tryfirst) defines it
    register_plugin(hazard_plugin("火山", tryfirst=True), name="first")
    register_plugin(hazard_plugin("噴火"), name="newer")
    registry, problems = facts.collect_hazards(app.extensions["disaster_ai"])
    assert registry["volcano"].ja == "火山" and problems == []
