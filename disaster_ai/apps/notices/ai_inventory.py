"""This app's AI component and risk sheet for the governance inventory (dai_ai_components,
dai_ai_risk_sheets): the ``dai_llm_client`` that polishes notice texts, as configured. Building
the client is cheap (a local model loads on its first completion only)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from disaster_ai.apps.notices.llm import PURPOSE
from disaster_ai.egress import is_loopback_host
from disaster_ai.types import AIComponent

DATA = Path(__file__).resolve().parent / "data"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
COMPONENT = "notices.polish"
RETENTION = (
    "prompts are not kept (the audit log keeps their sha256); the AI texts are kept in the "
    "audit log and on the notice"
)


def components(app) -> list[AIComponent]:
    client = app.extensions["disaster_ai"].hook.dai_llm_client(purpose=PURPOSE)
    common = {
        "id": COMPONENT,
        "apps": ("notices",),
        "features": (PURPOSE,),
        "data_classes": ("public",),
        "retention": RETENTION,
    }
    if client is None:
        return [
            AIComponent(
                engine="none",
                model="",
                in_use=False,
                note="not configured (NOTICE_LLM_URL / NOTICE_LLM_LOCAL_PATH)",
                **common,
            )
        ]
    runs_on, weights, note = "local", (), ""
    url = getattr(client, "url", None)
    if url:
        host = (urlsplit(url).hostname or "").lower()
        runs_on = "local" if is_loopback_host(host) else host
        if runs_on != "local":
            common["retention"] = RETENTION + "; the host's own retention per its contract"
    folder = getattr(client, "path", None)
    if folder is not None and Path(folder).is_dir():
        weights = tuple(
            sorted(str(p) for p in Path(folder).iterdir() if p.suffix in WEIGHT_SUFFIXES)
        )
        if (Path(folder) / "LICENSE").is_file():
            note = f"licence: see {Path(folder) / 'LICENSE'}"
    return [
        AIComponent(
            engine=getattr(client, "name", type(client).__name__),
            model=str(getattr(client, "model", "") or ""),
            version=str(getattr(client, "version", "") or ""),
            weights=weights,
            licence=str(getattr(client, "licence", "") or ""),
            runs_on=runs_on,
            note=note,
            **common,
        )
    ]


def risk_sheets() -> list[str]:
    return [str(path) for path in sorted((DATA / "risk_sheets").glob("*.toml"))]
