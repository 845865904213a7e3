"""The desk shell: login, dashboard, admin pages, /-/plugins, /healthz, language switch."""

from __future__ import annotations


def register_web(app) -> None:
    from disaster_ai.web import context, finder, live, metrics, times, views

    app.register_blueprint(views.bp)
    app.register_blueprint(live.bp)
    app.register_blueprint(finder.bp)
    app.register_blueprint(metrics.bp)
    times.register_filters(app)
    app.context_processor(context.template_context)
