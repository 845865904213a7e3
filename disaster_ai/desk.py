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
    desk.notices.suggest(hazard=…, level=…, …)    # a 提案 draft for the desk, never issued by itself
    desk.notices.outdate(ref, reason="…")         # its reason is gone (取消, lowered)
    desk.events.emit(event, session=session)      # after-commit domain events
    desk.levels.LEVELS[4].ja, desk.hazards.label("flood")  # the vocabularies (one registry each)

A plugin's own tables derive from ``Base`` (re-exported here with the column types
``AwareDateTime``, ``JSONText``, ``GeoJSON`` and ``now()``, the aware current time).

The core implements incidents and notices by asking the apps (``dai_incident_upsert``,
``dai_notice_suggest``), so it never imports them; when the app that provides one is disabled,
the call raises :class:`DeskUnavailable`. Nothing here is stored on the app, and a desk is cheap
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
    FeedResponse,
    IncidentRef,
    IncidentUpsert,
    MunicipalityProfile,
    NoticeSuggestion,
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
    "DomainEvent",
    "FeedResponse",
    "IncidentCreated",
    "IncidentRef",
    "MunicipalityProfile",
    "NoticeIssued",
    "SuggestionCreated",
    "SuggestionRef",
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
        self.levels = levels  # the 警戒レベル registry (names ja/en, colours), read-only
        self.hazards = hazards  # the hazard registry: registry(), label(code), legend()

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


class _Part:
    def __init__(self, desk: Desk):
        self.desk = desk


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


class _Events(_Part):
    def emit(self, event: DomainEvent, session: Session | None = None) -> None:
        """Announce ``event`` to ``dai_domain_event`` after ``session`` commits (at once
        without a session)."""
        from disaster_ai import events

        events.emit(event, session=session, app=self.desk.app)
