"""Data classes in the egress policy: which outside hosts an admin allowed to receive personal
or confidential data (each marking audited), and the governance app's ``dai_egress_allows``.

- A host an admin marked for a class may receive it (True).
- A call naming an inventory component that may not receive the class is refused (False).
- Otherwise no opinion: the core then sends only public data to an outside host.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from disaster_ai import audit
from disaster_ai.types import Actor, EgressRequest

APP = "governance"
MARKABLE = ("personal", "confidential")
HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?$")


class PolicyError(ValueError):
    def __init__(self, code: str, field: str = ""):
        super().__init__(code)
        self.code = code
        self.field = field


def host_markings(session: Session) -> list:
    from disaster_ai.apps.governance.models import HostDataClass

    return list(
        session.scalars(
            select(HostDataClass).order_by(HostDataClass.host, HostDataClass.data_class)
        )
    )


def allowed_classes(session: Session, host: str) -> set[str]:
    from disaster_ai.apps.governance.models import HostDataClass

    rows = session.scalars(select(HostDataClass.data_class).where(HostDataClass.host == host))
    return set(rows)


def mark_host(session: Session, host: str, data_class: str, reason: str, actor: Actor):
    """Allow ``host`` to receive ``data_class`` (audited ``governance.host_allowed``)."""
    from disaster_ai.apps.governance.models import HostDataClass

    host = (host or "").strip().lower()
    reason = (reason or "").strip()
    if not HOST_RE.match(host):
        raise PolicyError("invalid_host", "host")
    if data_class not in MARKABLE:
        raise PolicyError("invalid_class", "data_class")
    if not reason:
        raise PolicyError("reason_required", "reason")
    if data_class in allowed_classes(session, host):
        raise PolicyError("already_allowed", "host")
    row = HostDataClass(
        host=host, data_class=data_class, reason=reason[:500], allowed_by=actor.username
    )
    session.add(row)
    session.flush()
    audit.record(
        "governance.host_allowed",
        app=APP,
        target=host,
        detail={"host": host, "data_class": data_class, "reason": reason[:500]},
        actor=actor,
        session=session,
    )
    return row


def unmark_host(session: Session, marking_id: int, actor: Actor) -> None:
    """Withdraw a marking (audited ``governance.host_revoked``)."""
    from disaster_ai.apps.governance.models import HostDataClass

    row = session.get(HostDataClass, marking_id)
    if row is None:
        raise PolicyError("not_found")
    audit.record(
        "governance.host_revoked",
        app=APP,
        target=row.host,
        detail={"host": row.host, "data_class": row.data_class},
        actor=actor,
        session=session,
    )
    session.delete(row)


def egress_allows(app, request: EgressRequest) -> bool | None:
    from disaster_ai.apps.governance.inventory import component_by_id
    from disaster_ai.storage import get_storage, session_scope

    if request.component is not None:
        component = component_by_id(app, request.component)
        if component is None or request.data_class not in component.data_classes:
            return False
    if request.data_class == "public":
        return None
    with session_scope(get_storage(app)) as session:
        if request.data_class in allowed_classes(session, request.host):
            return True
    return None
