"""Frozen dataclasses exchanged through hooks. Hooks never see ORM rows or Flask requests
(except the few web hooks that take ``request``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ROLES = ("operator", "approver", "admin")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user, an API token holder, or the system itself."""

    id: int | None
    username: str
    roles: frozenset[str]
    locale: str = "ja"
    via: str = "session"  # session | token | cli | system

    def has_role(self, role: str) -> bool:
        """Admin holds every role; an approver also works the desk as an operator does."""
        held = set(self.roles)
        if "admin" in held:
            return True
        if "approver" in held:
            held.add("operator")
        return role in held


SYSTEM_ACTOR = Actor(id=None, username="system", roles=frozenset({"admin"}), via="system")


@dataclass(frozen=True)
class AppSpec:
    """A capability of the desk: where it lives and who may open it."""

    id: str
    title: str  # a lazy_gettext string, so the nav follows the user's language
    endpoint: str | None = None  # url_for target of its nav entry
    required_role: str = "operator"
    order: int = 100


@dataclass(frozen=True)
class MenuItem:
    label: str
    href: str
    order: int = 100


@dataclass(frozen=True)
class Link:
    """A link to another record, shown on a page (``dai_incident_links``): ``label`` is
    already in the reader's language."""

    label: str
    href: str


@dataclass(frozen=True)
class PermissionSpec:
    """An action and the roles allowed to do it (admin always is)."""

    action: str
    roles: frozenset[str]
    description: str = ""


@dataclass(frozen=True)
class JobHandler:
    """A kind of slow work the job runner can execute: ``func(ctx: JobContext) -> dict | None``.

    ``title`` names the work on the desk's job queue and ``stages`` names the progress messages
    the handler reports (``ctx.progress(40, "transcribing")``); give both as lazy gettext
    strings so each user reads them in their own language. Without them the desk shows the
    raw kind and message."""

    kind: str
    func: Callable[[Any], dict | None]
    max_attempts: int = 3
    timeout_seconds: int = 600
    title: Any = ""
    stages: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobSpec:
    """A scheduled job for ``disaster-ai scheduler`` (APScheduler 3.x).

    ``trigger`` is an APScheduler trigger object; ``func`` must be importable by reference
    (a module-level function) because the job store lives in the database."""

    id: str
    trigger: Any
    func: Callable[..., Any]
    kwargs: dict = field(default_factory=dict)
    misfire_grace_time: int = 300


@dataclass(frozen=True)
class HealthCheck:
    """One line of ``/healthz``. ``updated_at`` (aware): when the source this check watches last
    changed (a feed's own update time), exposed by ``/metrics`` as its age."""

    name: str
    ok: bool
    detail: str = ""
    critical: bool = True
    updated_at: datetime | None = None


@dataclass(frozen=True)
class LayerSource:
    """A map layer for the desk map: GeoJSON plus how to draw it."""

    id: str
    title: str
    geojson: dict
    style: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """What ``dai_audit_event`` receives after an audit row is written."""

    action: str
    actor: str
    app: str | None
    target: str | None
    detail: dict
    at: str


@dataclass(frozen=True)
class SampleContext:
    """Given to ``dai_load_sample`` when ``disaster-ai init --sample NAME`` runs."""

    name: str
    directory: str
    manifest: dict


@dataclass(frozen=True)
class NoticeAction:
    """A hazard's own wording for one level's action (``NoticeHazard.actions[level]``).

    An empty field keeps the level's fixed guideline wording. ``required*`` is the phrase the
    fact guard demands in every 発令 text of that language, so it must be a substring of the
    matching ``sentence*`` (or of the default sentence when that one is left empty)."""

    # the short line said twice on radio and, with 「してください」, the shortest mail
    # (「危険な場所から全員避難」); it must contain ``required`` too
    attention: str = ""
    sentence: str = ""  # the full action sentence (Japanese channels)
    required: str = ""
    sentence_en: str = ""
    required_en: str = ""
    sentence_easy: str = ""  # やさしい日本語
    required_easy: str = ""


@dataclass(frozen=True)
class NoticeHazard:
    """A hazard an evacuation notice (避難情報) can be about, from ``dai_notice_hazards``.

    ``code`` is the machine name (API, storage, the CAP eventCode ``JP_HAZARD``); ``ja`` is the
    word every Japanese channel and the guard use (火山), ``en`` the English words, ``easy_ja``
    the やさしい日本語 form. ``reasons`` are the phrases the form offers. ``cap_category`` is a CAP
    1.2 category (Geo, Met …); ``cap_event_code`` the ``JP_HAZARD`` eventCode value (default:
    ``code``). ``zone_hazard`` is the situation app's hazard code whose shelter designations
    and hazard-zone layer decide shelter suitability (default: ``code``). ``actions`` maps a
    level (3, 4, 5) to a :class:`NoticeAction` when the hazard words that level's action
    differently; the level and its name never change."""

    code: str
    ja: str
    en: str
    easy_ja: str
    reasons: tuple[str, ...] = ()
    cap_category: str = "Met"
    cap_event_code: str = ""
    zone_hazard: str = ""
    actions: dict = field(default_factory=dict, hash=False)
    order: int = 100  # position in the form's hazard list


# --- the plugin facade (disaster_ai.desk) ------------------------------------------------------


@dataclass(frozen=True)
class IncidentUpsert:
    """What ``desk.incidents.upsert`` asks the incidents provider (``dai_incident_upsert``):
    the outside system's stable reference and the incident's fields (category, description,
    occurred_at, lon, lat, place_name, district_key, life_threat, people, vulnerable, status,
    source)."""

    external_ref: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class IncidentRef:
    """The incident an upsert reached: ``created`` is False when the reference was known."""

    id: int
    external_ref: str
    created: bool
    changed: bool = False  # an existing incident whose fields the upsert changed


@dataclass(frozen=True)
class SuggestionSource:
    """Where a suggested notice comes from: shown to the desk beside the 提案 draft.
    ``ref`` identifies the item in the source (one suggestion per plugin and ref)."""

    plugin: str
    ref: str
    title: str = ""
    url: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class NoticeSuggestion:
    """A notice a plugin suggests (``desk.notices.suggest`` → ``dai_notice_suggest``)."""

    hazard: str
    level: int
    districts: tuple[str, ...]
    source: SuggestionSource
    reason: str = ""
    action: str = "発令"
    exercise: bool = False


@dataclass(frozen=True)
class SuggestionRef:
    """The 提案 draft: ``created`` is False when the plugin had already suggested a notice
    with the same ``source.ref`` (the call is idempotent)."""

    notice_id: int
    created: bool
    url: str = ""


@dataclass(frozen=True)
class SuggestionOutdated:
    """A suggestion (提案) whose reason is gone: the source was cancelled (取消) or lowered
    (``desk.notices.outdate`` → ``dai_notice_outdate``). ``ref`` is the suggestion's ``ref``."""

    plugin: str
    ref: str
    reason: str = ""


@dataclass(frozen=True)
class FeedResponse:
    """What ``desk.egress.get`` read: the HTTP ``status`` (200 …, or 304 when the feed has not
    changed since ``If-Modified-Since``; its body is then empty), the ``body`` and the response
    ``headers`` (names in lower case, e.g. ``last-modified``)."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class MunicipalityProfile:
    """The municipality as a plugin sees it (``desk.municipality()``): its name, 団体コード
    (``lg_code``, 6 digits), JIS X 0402 code (5 digits), prefecture, and every JMA 市町村等
    (class20, 7 digits) area code that is this municipality: the profile's own codes, the JIS
    code + ``00``, and for a 政令市 each ward's codes too. ``wards`` are the wards' JIS codes."""

    name: str
    lg_code: str
    jis_code: str
    prefecture: str = ""
    jma_area_codes: tuple[str, ...] = ()
    wards: tuple[str, ...] = ()


@dataclass(frozen=True)
class DashboardPanel:
    """A panel (card) of the desk's dashboard, from ``dai_dashboard_panels``. The dashboard draws
    only the panels the hook returns, sorted by ``order``: a disabled app shows none.

    ``data`` is JSON-able; ``/dashboard/feed.json`` carries it under ``key``. ``title`` names the
    card (a lazy gettext string). ``template`` is a Jinja template (in your blueprint's template
    folder) that draws the card's body from ``panel`` (= ``data``); without one, the body lists
    ``data["items"]`` (``{"label", "url", "note"}``), or says ``data["empty"]`` when there are
    none. The page polls the feed every few seconds and replaces the body with the template
    rendered again; a panel that updates itself instead names its ``script`` (a URL), which
    listens for the ``dai:panel`` event on its card (``event.detail``: ``{key, data, html}``).
    ``data["last_id"]``: the newest id a panel shows (the next poll passes the highest as
    ``since_id``); ``data["district_levels"]``: ``{district_key: {level, label}}`` shades the
    districts on the dashboard's map."""

    key: str
    data: Mapping[str, Any]
    title: Any = ""
    order: int = 100
    template: str = ""
    script: str = ""


@dataclass(frozen=True)
class MigrationSource:
    """Where a plugin's Alembic migrations live (``dai_migrations``).

    ``name`` names the history (and its version table, ``dai_schema_<name>``); ``directory``
    holds the revision files, the first of which carries the branch label ``name``. ``after``
    names the histories whose tables yours refer to (foreign keys): they are migrated first.
    The core's own history is ``core`` and always runs first."""

    name: str
    directory: str
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class IncidentCategory:
    """An incident category, from ``dai_incident_categories``: the code (API, storage; ``a-z``,
    digits and ``_``, at most 32), the words in Japanese and English, and how the map draws it
    (a colour white text reads on, and one symbol character, so it is readable without colour)."""

    code: str
    ja: str
    en: str
    colour: str = "#374151"
    symbol: str = "他"
    order: int = 100


@dataclass(frozen=True)
class Hazard:
    """A hazard, from ``dai_hazards`` (the one registry: ``disaster_ai.hazards``): the code
    (API, storage, map layers; ``a-z``, digits and ``_``, 2 to 32), the Japanese word every
    Japanese text uses (洪水), the English label (Flood), a colour for maps and legends
    (``#rrggbb``) and the position in lists."""

    code: str
    ja: str
    en: str
    colour: str = "#4b5563"
    order: int = 100


@dataclass(frozen=True)
class Notification:
    """A live notification for the desk, from ``dai_notifications``: shown as a toast to every
    logged-in user holding one of ``roles`` (``operator`` reaches approvers and admins too, as
    :meth:`Actor.has_role` says) or named in ``users``, never to ``exclude_user`` (who caused it).

    ``title`` and ``body`` are lazy gettext strings (``lazy_gettext("… %(place)s", place=…)``):
    the core keeps them in every desk language, so a user reads them in theirs. ``endpoint`` and
    ``values`` name the page it links to (``url_for`` arguments). ``key`` ties it to what it is
    about (``call:12``): for one event, the first notification of a key wins. ``severity`` is
    ``urgent`` (a sound, when the user turned it on, and a red toast) or ``info``."""

    key: str
    title: Any
    endpoint: str
    values: Mapping[str, Any] = field(default_factory=dict)
    body: Any = ""
    roles: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    exclude_user: str = ""
    severity: str = "info"  # urgent | info


@dataclass(frozen=True)
class SearchResult:
    """One answer of the desk's search box, from ``dai_search``.

    ``kind`` is a short code (``town``, ``district``, ``shelter``, ``incident``, ``notice`` …)
    and ``kind_label`` its word in the user's language; ``label`` is what the user reads and
    ``detail`` a second line (a reading, an address). ``url`` is the page to open; a result
    with ``lat``/``lon`` is also shown on the map. ``score`` orders the answers (higher first):
    100 an exact name, 80 a name that starts with the query, 60 a reading, 40 contained."""

    kind: str
    kind_label: str
    label: str
    url: str
    detail: str = ""
    lat: float | None = None
    lon: float | None = None
    score: int = 0


DATA_CLASSES = ("public", "personal", "confidential")


@dataclass(frozen=True)
class AIComponent:
    """One AI component for the model inventory (``dai_ai_components``): an engine and its
    model. ``weights`` are the real weight files (hashed lazily, cached); ``runs_on`` is
    ``"local"`` (this server) or the host it sends data to; ``data_classes`` are the classes of
    data it may receive (``public``, ``personal``: calls, ``confidential``); ``retention`` says
    whether and how long its inputs are kept; ``features`` name the AI features (risk sheets)
    it serves. ``weights_sha256`` is the digest the files must have (concatenated in order,
    for weights split over several files), when known."""

    id: str
    engine: str
    model: str
    version: str = ""
    weights: tuple[str, ...] = ()
    weights_sha256: str = ""
    licence: str = ""
    runs_on: str = "local"
    apps: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    data_classes: tuple[str, ...] = ("public",)
    retention: str = ""
    in_use: bool = True
    note: str = ""


@dataclass(frozen=True)
class EgressRequest:
    """An outbound call the egress policy is asked about (``dai_egress_allows``): the host,
    the kind (``ai``, ``delivery``, ``feed``), the purpose, the app, the class of the data
    sent (``public``, ``personal``, ``confidential``) and the inventory component that sends
    it, when the caller names one."""

    host: str
    kind: str
    purpose: str
    app: str | None = None
    data_class: str = "public"
    component: str | None = None


# --- the bulletin hooks' payloads (dai_bulletin_sections, dai_deliver_bulletin): here so that
# every app and plugin can build them without importing the bulletins app (which re-exports them)


@dataclass(frozen=True)
class BulletinContext:
    """What ``dai_bulletin_sections`` gets while a bulletin's snapshot is taken.

    ``situation`` is the bulletin's own digest of the situation document (the same dict that is
    frozen into the bulletin); ``since`` is when the previous bulletin of the event was issued
    (the event's opening time for the first one). Times are ISO 8601 with ``+09:00``."""

    event_id: int
    event_name: str
    issued_at: str
    since: str | None
    hazard: str | None
    exercise: bool
    situation: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BulletinSection:
    """A section a plugin adds to a bulletin: a heading, a paragraph and/or bullet items.

    Everything is frozen into the bulletin's snapshot, so keep it to plain text."""

    title: str
    body: str = ""
    items: tuple[str, ...] = ()
    key: str = ""


@dataclass(frozen=True)
class DeliveryChannel:
    """Where a bulletin goes: ``kind`` is ``email`` or ``webhook`` for the core providers (a
    plugin may add others, e.g. ``lalert``); ``target`` is the address or URL; ``options`` the
    rest of the target's settings (for a webhook, an optional ``secret`` for the signature)."""

    kind: str
    target: str
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class BulletinPayload:
    """A rendered bulletin, ready to send. Every format is built from the frozen snapshot."""

    id: int
    event_id: int
    event_name: str
    number: int
    issued_at: str
    title: str
    text: str
    html: str
    document: dict
    pdf: bytes | None = None
    pdf_filename: str = ""

    def json_bytes(self) -> bytes:
        import json

        return json.dumps(self.document, ensure_ascii=False, sort_keys=True, indent=2).encode()


@dataclass(frozen=True)
class DeliveryResult:
    """What a delivery provider reports. ``ok=False`` (or raising) counts as a failed attempt,
    which the job runner retries. ``host`` is where it went; ``external`` is True when that host
    is not this machine (the core audits both kinds)."""

    ok: bool
    detail: str = ""
    host: str = ""
    external: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# --- what the facade's read APIs return (disaster_ai.desk, docs/internals.md) -----------------


@dataclass(frozen=True)
class IncidentInfo:
    """An incident as the facade shows it (``desk.incidents.get`` / ``query`` / ``create`` /
    ``update``): plain values, never the row. ``occurred_at`` is aware; ``merged_into`` is the
    incident this one was merged into as a duplicate (None for the incidents that count)."""

    id: int
    category: str
    status: str
    occurred_at: Any
    description: str = ""
    place_name: str | None = None
    district_key: str | None = None
    lon: float | None = None
    lat: float | None = None
    life_threat: bool = False
    people: int | None = None
    vulnerable: bool = False
    source: str = ""
    merged_into: int | None = None
    external_ref: str | None = None


@dataclass(frozen=True)
class LayerFeature:
    """A feature of an active map layer (``desk.layers.features``, ``desk.shelters.get``):
    its key, name, reading (kana), GeoJSON geometry and the other properties."""

    key: str
    name: str
    name_kana: str = ""
    geometry: Mapping[str, Any] | None = None
    props: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ShelterState:
    """A shelter's recorded status (``desk.shelters.states``): open or not, how many people
    are in it, when and by whom it was last changed."""

    key: str
    is_open: bool
    occupancy: int
    updated_at: Any = None
    updated_by: str = ""


@dataclass(frozen=True)
class DisasterInfo:
    """A disaster event (災害, the frame of bulletins and damage reports), as
    ``desk.disasters`` shows it. Times are aware; ``closed_at`` is None while it is open."""

    id: int
    name: str
    opened_at: Any
    hazard: str | None = None
    exercise: bool = False
    opened_by: str = ""
    closed_at: Any = None
