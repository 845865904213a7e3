"""The core's hooks, grouped by phase. docs/plugins.md documents each one. Hooks that belong to
one app live in that app (``disaster_ai/apps/<app>/hookspecs.py``) and are added by its
``dai_add_hookspecs`` when it loads.

Rules (see docs/plugins.md): names start with ``dai_``; an implementation may accept fewer
arguments than its spec; hooks return data and never mutate the app; firstresult hooks stop
at the first non-None result and always have a ``trylast`` core default.
"""

from disaster_ai import hookspec

# --- startup -------------------------------------------------------------------------------


@hookspec
def dai_startup(app, desk):
    """Called once the app is built. Validate your settings (``desk.config``, that is
    ``app.config["PLUGINS"][<your name>]``) here and raise with a clear message when they are
    wrong: the plugin is then disabled and shown as failed on the admin plugins page, and the
    desk keeps running. ``desk`` is your :class:`disaster_ai.desk.Desk`."""


@hookspec
def dai_add_hookspecs(pm):
    """Called once, right after your plugin is registered: add the hook specifications your
    plugin offers to other plugins with ``pm.add_hookspecs(module)``. The built-in apps add
    their own hooks this way (``disaster_ai/apps/<app>/hookspecs.py``), so an app's hooks exist
    only while the app is enabled. Return value is ignored."""


@hookspec
def dai_models():
    """Return the modules (or their dotted names) that define your tables on
    ``disaster_ai.storage.Base``. The app imports them when it starts, so the schema check and
    ``alembic revision --autogenerate`` see your tables; a blocked plugin's are not imported."""


@hookspec
def dai_migrations():
    """Return a list of :class:`disaster_ai.types.MigrationSource`: your Alembic migrations
    (a folder of revision files whose first revision has the branch label of your history),
    each kept in its own version table. ``disaster-ai init`` migrates the core first, then
    every loaded plugin's history in ``after`` order; a blocked plugin's tables are not made."""


@hookspec
def dai_load_sample(context):
    """Load your part of a sample municipality during ``disaster-ai init --sample NAME``.

    ``context`` is a :class:`disaster_ai.types.SampleContext` (name, directory, manifest).
    Return a short human-readable summary string, or None."""


# --- vocabularies --------------------------------------------------------------------------


@hookspec
def dai_hazards():
    """Return a list of :class:`disaster_ai.types.Hazard`: hazards (code, Japanese and English
    words, colour) for the one registry, ``disaster_ai.hazards``, that every app reads (the
    notice form, the map and its legend, the bulletins, the reports). The eight built-in ones
    come last, so a definition with the same code replaces one. A definition that fails the
    check (code, words, colour, a retired 避難情報 name, a level's name) is refused and logged;
    a failing implementation is skipped."""


@hookspec
def dai_incident_categories():
    """Return a list of :class:`disaster_ai.types.IncidentCategory`: incident categories
    (code, Japanese and English words, map colour and symbol). The registry is
    ``disaster_ai.categories``; the situation app's own implementation (``trylast``) gives the
    built-in ones; a plugin's definition with the same code replaces one. A definition that
    fails the check is refused and logged; a failing implementation is skipped."""


# --- web -----------------------------------------------------------------------------------


@hookspec
def dai_register_apps():
    """Return a list of :class:`disaster_ai.types.AppSpec`: the desk capabilities you add."""


@hookspec
def dai_register_blueprints():
    """Return a list of Flask blueprints. The core mounts each one; name API blueprints
    with a ``url_prefix`` under ``/api/v1/`` and UI blueprints under ``/apps/<name>``."""


@hookspec
def dai_desk_menu_items(actor, request):
    """Return a list of :class:`disaster_ai.types.MenuItem` for this actor's navigation."""


@hookspec
def dai_extra_template_vars(template, request):
    """Return a dict of extra variables for the named template."""


@hookspec
def dai_dashboard_panels(actor, since_id):
    """Return a list of :class:`disaster_ai.types.DashboardPanel` for this actor's dashboard
    (also polled as ``/dashboard/feed.json``). ``since_id`` is the last incident id the page
    already shows (None on a fresh page), for panels that send only what is new. For the same
    ``key`` the implementation called first wins; a failing one is logged and skipped."""


@hookspec(firstresult=True)
def dai_handle_exception(request, exception):
    """Turn an exception raised by a view into a response.

    firstresult: stops at the first non-None result. The core default renders the one JSON
    error format under ``/api/`` and an error page elsewhere."""


# --- CLI -----------------------------------------------------------------------------------


@hookspec
def dai_register_commands(cli):
    """Add click commands or groups to the ``disaster-ai`` command (``cli.add_command``)."""


# --- auth ----------------------------------------------------------------------------------


@hookspec(firstresult=True)
def dai_actor_from_request(request):
    """Return the :class:`disaster_ai.types.Actor` making this request, or None.

    firstresult: stops at the first non-None result. The core default reads the session
    login and ``Authorization: Bearer`` API tokens."""


@hookspec(firstresult=True)
def dai_permission_allowed(actor, action, resource):
    """Return True to allow, False to deny, None to defer.

    firstresult: stops at the first non-None result. The core default allows an action when
    the actor holds one of the roles that ``dai_register_permissions`` gave it."""


@hookspec
def dai_register_permissions():
    """Return a list of :class:`disaster_ai.types.PermissionSpec` for the actions you check."""


# --- jobs and scheduling -------------------------------------------------------------------


@hookspec
def dai_job_handlers():
    """Return a list of :class:`disaster_ai.types.JobHandler`: kinds of slow work that
    ``disaster_ai.jobs.enqueue`` can queue and the worker runs."""


@hookspec
def dai_register_jobs(config, desk):
    """Return a list of :class:`disaster_ai.types.JobSpec` for ``disaster-ai scheduler``.
    The scheduler adds each with the stable id ``<plugin>.<job>``. ``desk`` is your
    :class:`disaster_ai.desk.Desk` (``desk.config`` holds your settings)."""


# --- operations ----------------------------------------------------------------------------


@hookspec
def dai_health_checks(app):
    """Return a list of :class:`disaster_ai.types.HealthCheck` for ``/healthz``
    (for example: is my model file present)."""


# --- maps ----------------------------------------------------------------------------------


@hookspec
def dai_map_layers(bbox):
    """Return a list of :class:`disaster_ai.types.LayerSource` for the desk map.
    ``bbox`` is ``(min_lon, min_lat, max_lon, max_lat)`` or None for everything."""


# --- audit ---------------------------------------------------------------------------------


@hookspec
def dai_audit_event(event):
    """Observe an audit record after it was committed (:class:`disaster_ai.types.AuditRecord`),
    for example to forward it to a municipal SIEM. Called after the transaction's commit, once
    per record; a record whose transaction rolls back is never passed. Return value is ignored."""


@hookspec
def dai_audit_actions():
    """Return a dict ``{action code: label}`` for the audit actions your plugin records
    (``notices.approve`` → ``lazy_gettext("Notice approved")``), so the audit page
    (``/admin/audit``) shows each action in the user's language. The one registry is
    ``disaster_ai.web.audit_labels``; for a code two implementations name, the one called first
    wins. An action nobody names is shown as its code. A failing implementation is skipped."""


@hookspec
def dai_egress_allows(request):
    """Say whether an outbound call may carry its class of data
    (:class:`disaster_ai.types.EgressRequest`: host, kind, purpose, app, ``data_class``,
    ``component``). Return True to allow the class for that host, False to refuse the call, or
    None for no opinion. Any False refuses (an implementation that raises counts as False);
    ``personal`` or ``confidential`` data to an outside host needs at least one True. Asked
    only for non-public data or a named component; refusals are audited as ``egress.refused``."""


# --- the facade: domain events and the providers behind disaster_ai.desk ------------------


@hookspec
def dai_domain_event(event, desk):
    """React to a domain event (:mod:`disaster_ai.events`: ``IncidentCreated``,
    ``NoticeIssued``, ``BulletinIssued``, ``SuggestionCreated``) after the transaction that
    made it committed; a rolled-back change never reaches you. ``desk`` is your
    :class:`disaster_ai.desk.Desk`. Every implementation runs; a failing one is logged and
    skipped. Return value is ignored."""


@hookspec
def dai_notifications(event):
    """Return a list of :class:`disaster_ai.types.Notification` for a domain event (the same
    events as ``dai_domain_event``, after their commit): who should see a toast about it, what
    it says and which page it opens. The core keeps them (table ``notifications``) and pushes
    them to the desk's open pages (server-sent events, ``/notifications/stream``). Return
    ``[]`` for events you do not know. For the same ``key`` the implementation called first
    wins; a failing one is logged and skipped."""


@hookspec
def dai_search(query, actor, lang):
    """Return a list of :class:`disaster_ai.types.SearchResult` for the desk's search box
    (``/api/v1/search?q=``): the places, shelters, incidents … of your plugin whose name,
    reading or address matches ``query`` (already stripped, 1–100 characters), that ``actor``
    may see, labelled in ``lang`` (``ja`` or ``en``). Return at most about 20; the core merges
    every plugin's answers by ``score``. A failing implementation is logged and skipped."""


@hookspec(firstresult=True)
def dai_incident_upsert(session, upsert, actor):
    """Create or update the incident with ``upsert.external_ref``
    (:class:`disaster_ai.types.IncidentUpsert`) in ``session``, as ``actor``; return a
    :class:`disaster_ai.types.IncidentRef`. Behind ``desk.incidents.upsert``.

    firstresult: stops at the first non-None result. The core default (trylast) is the
    situation app's incident store."""


@hookspec(firstresult=True)
def dai_desk_part(name):
    """Return the object behind the facade part ``name`` that your plugin keeps, or None:
    ``incidents``, ``layers``, ``shelters`` (the situation app's), ``disasters`` (the
    bulletins app's). The facade (``desk.incidents.get``, ``desk.layers.features`` …) calls
    its methods, as docs/internals.md lists them per part, and only returns plain values.

    firstresult: stops at the first non-None result. The core defaults (trylast) are the
    situation app's and the bulletins app's parts; with the app disabled the facade raises
    ``DeskUnavailable``."""


@hookspec(firstresult=True)
def dai_notice_suggest(session, suggestion, actor):
    """Save a suggested notice (:class:`disaster_ai.types.NoticeSuggestion`) as a 提案 draft in
    ``session`` and return a :class:`disaster_ai.types.SuggestionRef`. Behind
    ``desk.notices.suggest``.

    firstresult: stops at the first non-None result. The core default (trylast) is the
    notices app's drafting."""


@hookspec(firstresult=True)
def dai_notice_outdate(session, outdated, actor):
    """Mark the suggestion (提案) that ``outdated.plugin`` made with ``outdated.ref`` outdated
    (:class:`disaster_ai.types.SuggestionOutdated`: its source was cancelled or lowered). Return
    its :class:`disaster_ai.types.SuggestionRef`, or ``False`` when there is no such suggestion.
    Behind ``desk.notices.outdate``.

    firstresult: stops at the first non-None result. The core default (trylast) is the
    notices app's suggestion inbox."""


# --- notices in force (a contract between apps: notices provides, situation and bulletins read)


@hookspec
def dai_notices_in_force(at):
    """Return a list of dicts, one per evacuation notice (避難情報) in force at ``at`` (an aware
    datetime): ``{district_key, district_name, level, name, hazard, issued_at}``, where ``level``
    is 3, 4 or 5 and ``issued_at`` is ISO 8601 with an offset. Bulletins list them by level.
    With no implementation, a bulletin says that no notices are recorded."""
