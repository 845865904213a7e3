"""The facade: the one documented API that plugins (and the built-in apps) use to work with the
desk. docs/internals.md describes it; docs/plugins.md shows it in use.

A :class:`Desk` is bound to one app and one plugin name. Hooks that take a ``desk`` argument get
the desk of the plugin being called (``dai_startup``, ``dai_register_jobs``,
``dai_domain_event``); elsewhere (a view, a command, a job) ask for it by name::

    from disaster_ai.desk import current_desk

    desk = current_desk("tide")
    desk.config                                   # PLUGINS["tide"]
    with desk.session() as session: ...           # a transaction: commit at the end, or roll back
    desk.audit("tide.read", target="gauge:1")     # the audit log, as the plugin
    desk.jobs.enqueue("tide.fetch", {...})        # slow work for the worker
    desk.jobs.run_scheduled("tide.poll")          # a scheduled job, now, in this process
    desk.egress.fetch(url, purpose="…")           # GET a feed: allowlisted and audited
    desk.egress.get(url, purpose="…", headers=…)  # the same, with status and headers (304)
    desk.municipality()                           # the profile: codes, JMA area codes
    desk.incidents.upsert("jma:123", category=…)  # idempotent by external reference
    desk.incidents.query(place_name=…, since=…)   # read incidents (IncidentInfo, never rows)
    desk.layers.features("places")                # the active map layers' features
    desk.shelters.states(), desk.shelters.set_status(key, is_open=True)
    desk.disasters.current(), desk.disasters.open(name)  # disaster events (災害)
    desk.notices.in_force(at)                     # the 避難情報 in force, by level
    desk.notices.suggest(hazard=…, level=…, …)    # a 提案 draft for the desk, never issued by itself
    desk.notices.outdate(ref, reason="…")         # its reason is gone (取消, lowered)
    desk.events.emit(event, session=session)      # after-commit domain events
    desk.levels.LEVELS[4].ja, desk.hazards.label("flood")  # the vocabularies (one registry each)
    desk.categories.label("fire")                 # incident categories

A plugin's own tables derive from ``Base`` (re-exported here with the column types
``AwareDateTime``, ``JSONText``, ``GeoJSON`` and ``now()``, the aware current time).

The core implements incidents and notices by asking the apps (``dai_incident_upsert``,
``dai_notice_suggest``; the read parts ``incidents``, ``layers``, ``shelters`` and ``disasters``
through ``dai_desk_part``), so it never imports them; when the app that provides one is
disabled, the call raises :class:`DeskUnavailable`. Nothing here is stored on the app, and a desk is cheap
to build: make one where you need it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from disaster_ai import (  # re-exported: plugins may import them from here
    categories,  # the incident category registry (dai_incident_categories)
    hazards,  # the hazard registry (dai_hazards)
    hookimpl,  # noqa: F401
    levels,  # the 警戒レベル registry
)
from disaster_ai.errors import ApiError  # noqa: F401  re-exported: refused input, e.g. a category
from disaster_ai.events import (
    BulletinIssued,
    DomainEvent,
    IncidentCreated,
    NoticeIssued,
    SuggestionCreated,
)
from disaster_ai.storage.base import (  # noqa: F401  re-exported: for a plugin's own tables
    JST,
    AwareDateTime,
    Base,
    GeoJSON,
    JSONText,
    now,
)
from disaster_ai.types import (
    Actor,
    DisasterInfo,
    FeedResponse,
    IncidentInfo,
    IncidentRef,
    IncidentUpsert,
    LayerFeature,
    MunicipalityProfile,
    NoticeSuggestion,
    ShelterState,
    SuggestionOutdated,
    SuggestionRef,
    SuggestionSource,
)

__all__ = [
    "JST",
    "ApiError",
    "AwareDateTime",
    "Base",
    "GeoJSON",
    "JSONText",
    "now",
    "BulletinIssued",
    "Desk",
    "DeskUnavailable",
    "DisasterInfo",
    "DomainEvent",
    "FeedResponse",
    "IncidentCreated",
    "IncidentInfo",
    "IncidentRef",
    "LayerFeature",
    "MunicipalityProfile",
    "NoticeIssued",
    "ShelterState",
    "SuggestionCreated",
    "SuggestionRef",
    "categories",
    "current_desk",
    "hazards",
    "hookimpl",
    "levels",
]


class DeskUnavailable(RuntimeError):
    """The app that provides this part of the facade is disabled (``DISABLED_PLUGINS``)."""


def current_desk(plugin: str) -> Desk:
    """The desk of the running app (needs an app context: a view, a command, a job)."""
    return Desk(current_app._get_current_object(), plugin)


class Desk:
    """The facade for one plugin on one app."""

    def __init__(self, app, plugin: str):
        if not plugin:
            raise ValueError("a desk is always for a named plugin")
        self.app = app
        self.name = plugin
        self.jobs = _Jobs(self)
        self.egress = _Egress(self)
        self.incidents = _Incidents(self)
        self.notices = _Notices(self)
        self.events = _Events(self)
        self.layers = _Layers(self)
        self.shelters = _Shelters(self)
        self.disasters = _Disasters(self)
        self.levels = levels  # the 警戒レベル registry (names ja/en, colours), read-only
        self.hazards = hazards  # the hazard registry: registry(), label(code), legend()
        self.categories = categories  # the incident categories: registry(), label(code), codes()

    def __repr__(self) -> str:
        return f"<Desk {self.name}>"

    # --- configuration ---------------------------------------------------------------------

    @property
    def config(self) -> Mapping[str, Any]:
        """This plugin's settings: ``PLUGINS[<plugin name>]`` (empty when not configured)."""
        settings = (self.app.config.get("PLUGINS") or {}).get(self.name) or {}
        return MappingProxyType(dict(settings)) if isinstance(settings, dict) else settings

    @property
    def settings(self) -> Mapping[str, Any]:
        """The whole configuration, read-only (``TIMEZONE``, ``MUNICIPALITY_NAME`` …)."""
        return MappingProxyType(self.app.config)

    def municipality_name(self) -> str:
        """``MUNICIPALITY_NAME``, else the municipality profile's name, else ""."""
        from disaster_ai.web.context import municipality_name

        with self.context():
            return municipality_name(self.app)

    def municipality(self) -> MunicipalityProfile | None:
        """The municipality profile (``disaster-ai municipality set``), or None when none is set.
        ``jma_area_codes`` are every JMA 市町村等 (class20) code that is this municipality: the
        profile's JMA code(s), the JIS X 0402 code + ``00``, and for a 政令市 its wards' codes
        (from the national table), so that a telegram naming a ward is matched too."""
        from disaster_ai.municipality import profile, table
        from disaster_ai.storage import get_storage, session_scope

        with self.context(), session_scope(get_storage(self.app)) as session:
            row = profile.current(session)
            if row is None or not row.jis_code:
                return None
            name, lg, jis = row.name or "", row.lg_code or "", row.jis_code
            prefecture, own = row.prefecture or "", row.jma_area_code or ""
        codes = [c.strip() for c in own.split(",") if c.strip()] + [jis + "00"]
        wards = [e for e in table.entries() if e.parent_jis == jis]
        for ward in wards:
            codes += [ward.jis_code + "00"] + [c for c in ward.jma_area_code.split(",") if c]
        return MunicipalityProfile(
            name=name,
            lg_code=lg,
            jis_code=jis,
            prefecture=prefecture,
            jma_area_codes=tuple(dict.fromkeys(codes)),
            wards=tuple(w.jis_code for w in wards),
        )

    @property
    def actor(self) -> Actor:
        """Who the plugin acts as: audit rows and incidents name the plugin."""
        return Actor(None, self.name[:64], frozenset(), via="plugin")

    # --- storage and audit -----------------------------------------------------------------

    @contextlib.contextmanager
    def context(self) -> Iterator[None]:
        """This app's context (entered only when another app's, or none, is current)."""
        if has_app_context() and current_app._get_current_object() is self.app:
            yield
        else:
            with self.app.app_context():
                yield

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A database session in a transaction: committed when the block ends, rolled back when
        it raises. Domain events and audit observers run after the commit."""
        from disaster_ai.storage import get_storage, session_scope

        with self.context(), session_scope(get_storage(self.app)) as session:
            yield session

    def audit(
        self,
        action: str,
        *,
        target: str | None = None,
        detail: dict | None = None,
        session: Session | None = None,
    ) -> None:
        """Append an audit row as this plugin (``app`` = the plugin's name). With ``session``
        the row commits with your change; without, on its own."""
        from disaster_ai import audit

        with self.context():
            audit.record(
                action,
                app=self.name,
                target=target,
                detail=detail,
                actor=self.actor,
                session=session,
            )

    def provider(self, hook_name: str, **kwargs):
        """Ask the firstresult provider hook ``hook_name``; DeskUnavailable when none answers."""
        pm = self.app.extensions["disaster_ai"]
        caller = getattr(pm.hook, hook_name, None)
        result = caller(**kwargs) if caller is not None else None
        if result is None:
            raise DeskUnavailable(
                f"nothing provides {hook_name}: is the app that does disabled (DISABLED_PLUGINS)?"
            )
        return result

    def part(self, name: str):
        """The object an app gives for the facade part ``name`` (``dai_desk_part``);
        DeskUnavailable when no enabled app provides it. The facade's methods call it: use
        them (``desk.incidents.get`` …) rather than the object."""
        return self.provider("dai_desk_part", name=name)


class _Part:
    PART = ""  # the dai_desk_part name of the app object behind this part's reads

    def __init__(self, desk: Desk):
        self.desk = desk

    def _ask(self, method: str, session: Session | None, /, **kwargs):
        """Call ``method`` of the providing app's part in ``session`` (or in a transaction of
        its own, committed at the end)."""
        with self.desk.context():
            part = self.desk.part(self.PART)
            if session is not None:
                return getattr(part, method)(session=session, **kwargs)
            with self.desk.session() as own:
                return getattr(part, method)(session=own, **kwargs)


class _Jobs(_Part):
    """Queued work (the job runner) and scheduled jobs (``dai_register_jobs``)."""

    def enqueue(self, kind: str, payload: dict | None = None) -> int:
        """Queue a job of a kind some plugin declared with ``dai_job_handlers``; returns its
        id. It runs in the worker, with retries and a timeout (``GET /api/v1/jobs``)."""
        from disaster_ai.jobs.service import enqueue

        with self.desk.context():
            return enqueue(kind, payload or {}, actor=self.desk.actor, app=self.desk.app)

    def scheduled(self) -> list[str]:
        """The ids of every scheduled job (``<plugin>.<job>``), as ``disaster-ai scheduler``
        registers them."""
        from disaster_ai.scheduler import registered_jobs

        with self.desk.context():
            return sorted(registered_jobs(self.desk.app))

    def run_scheduled(self, job_id: str) -> None:
        """Run one scheduled job now, in this process, the way the scheduler runs it (also
        ``disaster-ai scheduler --run JOB_ID``). KeyError when no such job is registered."""
        from disaster_ai.scheduler import run_now

        run_now(self.desk.app, job_id)


class _Egress(_Part):
    """Outbound HTTP under the egress policy (``EGRESS_ALLOWLIST``)."""

    def fetch(
        self,
        url: str,
        *,
        purpose: str,
        headers: dict | None = None,
        timeout: float = 30,
        max_bytes: int | None = None,
    ) -> bytes:
        """GET ``url`` as a feed (egress kind ``feed``): allowed for loopback and the hosts in
        ``EGRESS_ALLOWLIST``; every fetch is audited. Raises ``egress.EgressDenied`` when the
        host is not allowed and ``egress.FeedError`` when the feed cannot be read."""
        from disaster_ai import egress

        with self.desk.context():
            return egress.fetch(
                url,
                purpose=purpose,
                app_name=self.desk.name,
                headers=headers,
                timeout=timeout,
                max_bytes=max_bytes or egress.FEED_MAX_BYTES,
            )

    def get(
        self,
        url: str,
        *,
        purpose: str,
        headers: dict | None = None,
        timeout: float = 30,
        max_bytes: int | None = None,
    ) -> FeedResponse:
        """GET ``url`` as :meth:`fetch` does (allowlisted, audited), for conditional requests:
        returns a :class:`~disaster_ai.types.FeedResponse` with the status, the body and the
        response headers. Send ``{"If-Modified-Since": last_modified}`` in ``headers`` and a
        feed that has not changed answers ``not_modified`` (304, empty body) instead of
        raising. Other HTTP errors raise ``egress.FeedError`` as :meth:`fetch` does."""
        from disaster_ai import egress

        with self.desk.context():
            status, body, answer = egress.fetch_response(
                url,
                purpose=purpose,
                app_name=self.desk.name,
                headers=headers,
                timeout=timeout,
                max_bytes=max_bytes or egress.FEED_MAX_BYTES,
            )
        return FeedResponse(status, body, MappingProxyType(answer))


class _Incidents(_Part):
    """Incidents (事案), kept by the situation app."""

    PART = "incidents"

    def get(self, incident_id: int, *, session: Session | None = None) -> IncidentInfo | None:
        """The incident ``incident_id`` (a merged duplicate too: see ``merged_into``), or None
        when there is none."""
        return self._ask("get", session, incident_id=int(incident_id))

    def query(
        self,
        *,
        ids=None,
        place_name: str | None = None,
        categories=None,
        statuses=None,
        exclude_statuses=None,
        since=None,
        exclude_id: int | None = None,
        merged: bool | None = False,
        newest_first: bool = False,
        limit: int | None = None,
        session: Session | None = None,
    ) -> list[IncidentInfo]:
        """The incidents that match every filter given: ``ids``, ``place_name`` (exactly),
        ``categories`` and ``statuses`` (any of), ``exclude_statuses``, ``since`` (occurred at
        or after, aware), ``exclude_id``. ``merged``: False (default) leaves merged duplicates
        out, as every list of the desk does; True gives only them; None both. Ordered by id,
        or newest ``occurred_at`` first with ``newest_first``; at most ``limit``."""
        filters = {
            "ids": None if ids is None else tuple(int(i) for i in ids),
            "place_name": place_name,
            "categories": None if categories is None else tuple(categories),
            "statuses": None if statuses is None else tuple(statuses),
            "exclude_statuses": None if exclude_statuses is None else tuple(exclude_statuses),
            "since": since,
            "exclude_id": exclude_id,
            "merged": merged,
            "newest_first": bool(newest_first),
            "limit": limit,
        }
        return self._ask("query", session, **filters)

    def create(
        self, values: dict, *, actor: Actor | None = None, session: Session | None = None
    ) -> IncidentInfo:
        """Record a new incident as ``actor`` (default: this plugin) with the fields of
        ``values`` (category required; as for ``upsert``), located, validated, audited
        (``incident.create``) and announced (``IncidentCreated``). Invalid values raise
        :class:`ApiError` (422)."""
        return self._ask("create", session, values=dict(values), actor=actor or self.desk.actor)

    def update(
        self,
        incident_id: int,
        values: dict,
        *,
        actor: Actor | None = None,
        session: Session | None = None,
    ) -> IncidentInfo:
        """Change the given fields of an incident as ``actor`` (``status="resolved"``
        resolves it); audited as ``incident.update`` / ``incident.resolve`` when something
        changed. :class:`ApiError`: 404 unknown, 409 merged, 422 invalid."""
        return self._ask(
            "update",
            session,
            incident_id=int(incident_id),
            values=dict(values),
            actor=actor or self.desk.actor,
        )

    def replace_description(
        self, incident_id: int, *, old: str, new: str, session: Session | None = None
    ) -> bool:
        """Replace the incident's description with ``new`` only while it still is ``old``
        (text a plugin copied in and must now withdraw, e.g. a transcript past its retention;
        an operator's edit is kept). Not audited: the caller audits why. True when replaced."""
        return self._ask(
            "replace_description", session, incident_id=int(incident_id), old=old, new=new
        )

    def upsert(self, external_ref: str, *, session: Session | None = None, **values) -> IncidentRef:
        """Record the incident known outside as ``external_ref`` once: the first call creates
        it (source ``feed`` unless given, created by the plugin), a later call with the same
        reference returns the same incident and changes only the fields that differ (nothing
        is written when none do). Fields: category (required on creation), description,
        occurred_at (aware datetime), lon, lat, place_name, district_key, life_threat, people,
        vulnerable, status, source. The incident stores ``"<plugin>:<external_ref>"`` (the
        returned ``IncidentRef.external_ref``). Invalid values raise ``disaster_ai.errors.ApiError``
        (422) with a message per field. With ``session`` it joins your transaction."""
        external_ref = str(external_ref or "").strip()
        stored = f"{self.desk.name}:{external_ref}"  # two plugins' references never collide
        if not external_ref or len(stored) > 255:
            raise ValueError("external_ref must be given, and with the plugin name ≤ 255 chars")
        request = IncidentUpsert(stored, dict(values))
        return self._call(request, session)

    def _call(self, request: IncidentUpsert, session: Session | None) -> IncidentRef:
        with self.desk.context():
            if session is not None:
                return self.desk.provider(
                    "dai_incident_upsert", session=session, upsert=request, actor=self.desk.actor
                )
            with self.desk.session() as own:
                return self.desk.provider(
                    "dai_incident_upsert", session=own, upsert=request, actor=self.desk.actor
                )


class _Notices(_Part):
    def in_force(self, at=None) -> dict:
        """The evacuation notices (避難情報) in force at ``at`` (aware; default now), from
        every ``dai_notices_in_force`` provider, checked and sorted by level (5 first):
        ``{status: ok|error|none_recorded, items: [{district_key, district_name, level, name,
        hazard, hazard_name, issued_at, closed_shelters}], errors: [{plugin, error}]}``.
        ``name`` is the level's fixed name, ``hazard_name`` Japanese."""
        from disaster_ai.in_force import notices_part

        with self.desk.context():
            pm = self.desk.app.extensions["disaster_ai"]
            return notices_part(pm, at or now(), hazards.Labels("ja"))

    def suggest(
        self,
        *,
        hazard: str,
        level: int,
        districts,
        ref: str,
        title: str = "",
        url: str = "",
        reason: str = "",
        action: str = "発令",
        exercise: bool = False,
        detail: dict | None = None,
        session: Session | None = None,
    ) -> SuggestionRef:
        """Suggest an evacuation notice: a draft marked 提案, linked to its source (``ref``,
        ``title``, ``url``), shown to the desk, audited (``notices.suggest``) and announced
        (``SuggestionCreated``). It is never issued by itself: an operator submits it and an
        approver approves it as any draft. Suggesting the same ``ref`` again returns the notice
        made the first time, whatever became of it (``created`` False). Invalid input raises
        :class:`ApiError` (422, ``details["field"]`` names the field)."""
        suggestion = NoticeSuggestion(
            hazard=hazard,
            level=int(level),
            districts=tuple(districts),
            source=SuggestionSource(
                self.desk.name, str(ref), str(title), str(url), dict(detail or {})
            ),
            reason=reason,
            action=action,
            exercise=bool(exercise),
        )
        with self.desk.context():
            if session is not None:
                return self.desk.provider(
                    "dai_notice_suggest", session=session, suggestion=suggestion,
                    actor=self.desk.actor,
                )  # fmt: skip
            with self.desk.session() as own:
                return self.desk.provider(
                    "dai_notice_suggest", session=own, suggestion=suggestion,
                    actor=self.desk.actor,
                )  # fmt: skip

    def outdate(
        self, ref: str, *, reason: str = "", session: Session | None = None
    ) -> SuggestionRef | None:
        """Mark the suggestion this plugin made with ``ref`` outdated: its source was cancelled
        (取消) or lowered. The 提案 is not deleted: the desk sees it marked 失効 with
        ``reason`` (audited ``notices.suggestion_outdated``), and an operator who already
        adopted it decides what to do. Returns the notice's :class:`SuggestionRef`, or None
        when this plugin made no suggestion with ``ref``. Marking it again changes nothing."""
        outdated = SuggestionOutdated(self.desk.name, str(ref), str(reason or ""))
        with self.desk.context():
            if session is not None:
                answer = self.desk.provider(
                    "dai_notice_outdate", session=session, outdated=outdated,
                    actor=self.desk.actor,
                )  # fmt: skip
            else:
                with self.desk.session() as own:
                    answer = self.desk.provider(
                        "dai_notice_outdate", session=own, outdated=outdated,
                        actor=self.desk.actor,
                    )  # fmt: skip
        return answer or None


class _Layers(_Part):
    """The situation app's map layers (districts, places, shelters, hazard zones …)."""

    PART = "layers"

    def active_versions(self, *, session: Session | None = None) -> dict[str, int]:
        """``{layer: version id}`` of every layer with an active version: a key for caches
        that must be rebuilt when a layer is re-imported."""
        return self._ask("active_versions", session)

    def features(self, layer: str, *, session: Session | None = None) -> list[LayerFeature]:
        """The features of the active version of ``layer`` (``districts``, ``places``,
        ``shelters``, ``hazard_zones``), in import order; [] when none is active."""
        return self._ask("features", session, layer=layer)

    def prepared(self, *, session: Session | None = None):
        """The active districts, shelters and hazard zones prepared for analysis (the
        situation app's ``analysis.Layers``: ``districts``, ``shelters`` and ``hazard_zones``
        as GeoDataFrames and their spatial indexes), cached until a layer changes; None when
        no district layer is active. Pass it to ``desk.shelters.assessment`` / ``nearest``."""
        return self._ask("prepared", session)


class _Shelters(_Part):
    """Shelters (避難所): the features of the active shelter layer and their status."""

    PART = "shelters"

    def get(self, key: str, *, session: Session | None = None) -> LayerFeature | None:
        """The shelter ``key`` of the active shelter layer, or None."""
        return self._ask("get", session, key=str(key))

    def states(self, *, session: Session | None = None) -> list[ShelterState]:
        """Every recorded shelter status (a shelter without one is closed, nobody in it)."""
        return self._ask("states", session)

    def set_status(
        self,
        key: str,
        *,
        is_open: bool | None = None,
        occupancy: int | None = None,
        actor: Actor | None = None,
        session: Session | None = None,
    ) -> bool:
        """Open or close the shelter and/or set its occupancy, as ``actor``; True when
        something changed (the same values again write nothing). Audited as
        ``shelter.status``. :class:`ApiError`: 404 unknown shelter, 422 invalid."""
        return self._ask(
            "set_status",
            session,
            key=str(key),
            is_open=is_open,
            occupancy=occupancy,
            actor=actor or self.desk.actor,
        )

    def listing(self, m2_per_person: float = 3.5, *, session: Session | None = None) -> dict:
        """Every shelter with its state, as ``GET /api/v1/shelters`` gives it:
        ``{version, attribution, shelters: [{key, name, is_open, occupancy, capacity …}]}``."""
        return self._ask("listing", session, m2_per_person=float(m2_per_person))

    def assessment(self, layers, states, hazard: str | None):
        """Each shelter of ``layers`` (``desk.layers.prepared()``) assessed for ``hazard``
        with ``states`` (a DataFrame of ``shelter_key, is_open, occupancy, updated_at``): a
        DataFrame with ``state`` (usable, unsafe, open, closed …), ``designated``, ``in_zone``,
        ``is_open`` … in the order of ``layers.shelters``. Pure: reads nothing."""
        with self.desk.context():
            return self.desk.part(self.PART).assessment(layers, states, hazard)

    def nearest(self, layers, candidates):
        """For each district of ``layers``, the nearest shelter among ``candidates`` (a
        boolean array over ``layers.shelters``): a DataFrame per district. Pure."""
        with self.desk.context():
            return self.desk.part(self.PART).nearest(layers, candidates)


class _Disasters(_Part):
    """Disaster events (災害: 令和8年台風第10号 …), kept by the bulletins app: bulletins and
    damage reports (被害報) are numbered per event."""

    PART = "disasters"

    def get(self, event_id: int, *, session: Session | None = None) -> DisasterInfo | None:
        """The event ``event_id``, or None."""
        return self._ask("get", session, event_id=int(event_id))

    def current(self, *, session: Session | None = None) -> DisasterInfo | None:
        """The open event opened last, or None when none is open."""
        return self._ask("current", session)

    def listing(self, *, session: Session | None = None) -> list[dict]:
        """Every event, open ones first, newest first, as ``GET /api/v1/bulletins/events``
        lists them (``{id, name, hazard, exercise, opened_at, closed_at, bulletins …}``)."""
        return self._ask("listing", session)

    def open(
        self,
        name: str,
        *,
        hazard: str | None = None,
        exercise: bool = False,
        actor: Actor | None = None,
    ) -> dict:
        """Open a new event as ``actor`` (audited ``bulletins.event_open``); returns it as
        :meth:`listing` shows one. Invalid input raises the app's error (422)."""
        with self.desk.context():
            return self.desk.part(self.PART).open(
                name, hazard=hazard, exercise=bool(exercise), actor=actor or self.desk.actor
            )


class _Events(_Part):
    def emit(self, event: DomainEvent, session: Session | None = None) -> None:
        """Announce ``event`` to ``dai_domain_event`` after ``session`` commits (at once
        without a session)."""
        from disaster_ai import events

        events.emit(event, session=session, app=self.desk.app)
