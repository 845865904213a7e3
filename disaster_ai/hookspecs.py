"""Every hook of disaster-ai, grouped by phase. docs/plugins.md documents each one.

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
def dai_load_sample(context):
    """Load your part of a sample municipality during ``disaster-ai init --sample NAME``.

    ``context`` is a :class:`disaster_ai.types.SampleContext` (name, directory, manifest).
    Return a short human-readable summary string, or None."""


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


# --- the facade: domain events and the providers behind disaster_ai.desk ------------------


@hookspec
def dai_domain_event(event, desk):
    """React to a domain event (:mod:`disaster_ai.events`: ``IncidentCreated``,
    ``NoticeIssued``, ``BulletinIssued``, ``SuggestionCreated``) after the transaction that
    made it committed; a rolled-back change never reaches you. ``desk`` is your
    :class:`disaster_ai.desk.Desk`. Every implementation runs; a failing one is logged and
    skipped. Return value is ignored."""


@hookspec(firstresult=True)
def dai_incident_upsert(session, upsert, actor):
    """Create or update the incident with ``upsert.external_ref``
    (:class:`disaster_ai.types.IncidentUpsert`) in ``session``, as ``actor``; return a
    :class:`disaster_ai.types.IncidentRef`. Behind ``desk.incidents.upsert``.

    firstresult: stops at the first non-None result. The core default (trylast) is the
    situation app's incident store."""


@hookspec(firstresult=True)
def dai_notice_suggest(session, suggestion, actor):
    """Save a suggested notice (:class:`disaster_ai.types.NoticeSuggestion`) as a 提案 draft in
    ``session`` and return a :class:`disaster_ai.types.SuggestionRef`. Behind
    ``desk.notices.suggest``.

    firstresult: stops at the first non-None result. The core default (trylast) is the
    notices app's drafting."""


# --- bulletins -----------------------------------------------------------------------------


@hookspec
def dai_bulletin_sections(context):
    """Return a list of :class:`disaster_ai.apps.bulletins.types.BulletinSection` to add to a
    bulletin (被害状況 第N報) while its snapshot is taken. ``context`` is a
    :class:`~disaster_ai.apps.bulletins.types.BulletinContext` (event, issue time, the previous
    bulletin's time, the situation digest). The sections are frozen into the bulletin. A failing
    implementation is logged and audited, and the bulletin is issued without its sections."""


@hookspec
def dai_notices_in_force(at):
    """Return a list of dicts, one per evacuation notice (避難情報) in force at ``at`` (an aware
    datetime): ``{district_key, district_name, level, name, hazard, issued_at}``, where ``level``
    is 3, 4 or 5 and ``issued_at`` is ISO 8601 with an offset. Bulletins list them by level.
    With no implementation, a bulletin says that no notices are recorded."""


@hookspec(firstresult=True)
def dai_deliver_bulletin(bulletin, channel):
    """Deliver one bulletin (:class:`~disaster_ai.apps.bulletins.types.BulletinPayload`) to one
    channel (:class:`~disaster_ai.apps.bulletins.types.DeliveryChannel`); return a
    :class:`~disaster_ai.apps.bulletins.types.DeliveryResult`, or None when the channel's
    ``kind`` is not yours. Raise (or return ``ok=False``) on failure: the job is retried.

    firstresult: stops at the first non-None result. The core default (trylast) sends
    ``email`` through SMTP and POSTs ``webhook`` as JSON."""


# --- damage reports ------------------------------------------------------------------------


@hookspec
def dai_report_items():
    """Return a list of :class:`disaster_ai.apps.reports.items.ReportItem` (or dicts with its
    keys: ``path``, ``unit``, ``kind``, ``forms``, ``sum``, ``label``, ``note``): items your
    prefecture adds to the damage report (第4号様式), e.g. ``{"path": "その他.停電地区",
    "unit": "地区"}``. An item whose path already exists replaces that item's definition; a new
    one goes after the last item of its group. Read once when the app starts; a wrong item
    disables the reports app with the reason on the admin plugins page."""


# --- notices -------------------------------------------------------------------------------


@hookspec
def dai_notice_templates(locale):
    """Return a dict ``{template name: Jinja2 source}`` of evacuation-notice templates, e.g.
    ``{"radio.txt": "…"}`` or ``{"radio/landslide_4.txt": "…"}`` (docs/notices.md lists the
    names and variables). They override the package's templates; the instance folder
    ``templates/notices/`` overrides them in turn. ``locale`` is ``"ja"``. A template that
    contains a forbidden legacy term (避難勧告 …) is refused when it is used."""


@hookspec
def dai_notice_hazards():
    """Return a list of :class:`disaster_ai.types.NoticeHazard`: hazards an evacuation notice
    can be about (code, Japanese/English/やさしい日本語 words, reason phrases, per-level action
    wording, CAP category and eventCode, the situation hazard whose shelter designations and
    zones apply). The notices app's own implementation (``trylast``) gives 洪水, 内水氾濫,
    土砂災害, 高潮 and 津波; a plugin's definition with the same code replaces the built-in one.
    A definition that fails the vocabulary check (a forbidden legacy term, a required phrase
    missing from its sentence …) is refused and logged; a failing implementation is skipped."""


@hookspec
def dai_review_notice(draft):
    """Check a notice before it is approved; return a list of problem strings (empty: fine).
    ``draft`` is the notice as the API shows it (a dict: level, name, hazard, districts,
    shelters, texts, guard …). Every implementation runs; a problem, or an implementation that
    raises, blocks the approval."""


@hookspec(firstresult=True)
def dai_llm_client(purpose):
    """Return an LLM client for ``purpose`` (e.g. ``"notices.polish"``), or None. A client has
    ``name``, ``model`` and ``complete(prompt: str, max_tokens: int) -> str``. Its output only
    ever replaces a template text after the fact guard accepted it.

    firstresult: stops at the first non-None result. The core default (trylast) returns None:
    no AI polish."""


# --- transcription -------------------------------------------------------------------------


@hookspec(firstresult=True)
def dai_transcribe(audio, options):
    """Transcribe one call recording. ``audio`` is 16 kHz mono float32 numpy samples;
    ``options`` is a :class:`disaster_ai.apps.transcription.types.TranscribeOptions` (language,
    beam size, VAD, the gazetteer prompt, caps, ``engine`` = the configured
    ``TRANSCRIPTION_ENGINE``). Return a :class:`~disaster_ai.apps.transcription.types.Transcript`,
    or None when ``options.engine`` is not yours. Load your model once per process.

    firstresult: stops at the first non-None result. The core default (trylast) is
    faster-whisper with the packaged Whisper base weights."""


@hookspec
def dai_place_names(municipality):
    """Return a list of :class:`disaster_ai.apps.transcription.types.PlaceName` (name, code,
    kind, readings) that place resolution in call transcripts matches against, for the named
    municipality. The core default lists the active places layer (町丁目) and the shelters with
    their ``name_kana``; add districts, landmarks or local readings here."""
