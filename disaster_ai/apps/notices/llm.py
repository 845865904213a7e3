"""Optional AI polish, always behind the fact guard (MODELS.md §5: the small packaged model must
never write notices on its own).

``polish`` asks the ``dai_llm_client(purpose="notices.polish")`` client to rewrite each Japanese
channel text. Every call is audited (``record_ai_call``). A rewrite replaces the template text
only when the guard finds no violation in it; otherwise the template text stays and the report
says which rules the AI text broke. With no client (the default), nothing happens.

``OpenAICompatibleClient`` talks to an OpenAI-style ``/v1/chat/completions`` endpoint (an
on-premise model or a government AI platform) through the egress policy (``egress.py``):
loopback is always allowed, any other host needs ``ALLOW_EXTERNAL_AI`` and the allowlist.
``local_llm.LocalTransformersClient`` runs a causal-LM folder on this machine
(``NOTICE_LLM_LOCAL_PATH``, e.g. the converted packaged Gemma 3 270M base model).

Prompts: a client with a ``build_prompt(text)`` method builds its own (the local client writes a
few-shot prompt for base models); any other client gets ``PROMPT`` + the text, an instruction
for chat/instruction-tuned models.
"""

from __future__ import annotations

import json
import time

from disaster_ai.apps.notices import guard
from disaster_ai.apps.notices.facts import NoticeFacts

PURPOSE = "notices.polish"
POLISHED = ("radio", "web_long", "easy_ja")
PROMPT = (
    "次の避難情報の文面を、事実（地区名、警戒レベル、避難情報の名称、時刻、避難先、発令/解除）を"
    "一切変えずに、より聞き取りやすく自然な日本語に整えてください。文面のみを出力してください。\n\n"
)


def client_for(purpose: str = PURPOSE):
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    return current_app.extensions["disaster_ai"].hook.dai_llm_client(purpose=purpose)


def build_prompt(client, text: str) -> str:
    builder = getattr(client, "build_prompt", None)
    return builder(text) if callable(builder) else PROMPT + text


def polish(out: dict, facts: NoticeFacts, universe=None, client=None, progress=None) -> dict:
    """Polish ``POLISHED`` channels of ``out`` behind the guard; ``progress(index, total,
    channel)``, when given, is called before each channel (the polish job reports it)."""
    client = client or client_for()
    if client is None:
        out["polish"] = {"used": False, "reason": "no dai_llm_client"}
        return out
    from disaster_ai import audit
    from disaster_ai.apps.notices.drafting import apply_texts

    texts = guard.channel_texts(out)
    results = {}
    for index, channel in enumerate(POLISHED):
        if progress is not None:
            progress(index, len(POLISHED), channel)
        prompt = build_prompt(client, texts[channel])
        started = time.perf_counter()
        try:
            candidate = (client.complete(prompt, max_tokens=512) or "").strip()
        except Exception as exc:  # the template text stays
            results[channel] = {"accepted": False, "error": f"{type(exc).__name__}: {exc}"}
            continue
        duration = int((time.perf_counter() - started) * 1000)
        report = guard.check(candidate, facts, channel, universe)
        audit.record_ai_call(
            app="notices",
            engine=getattr(client, "name", type(client).__name__),
            model=getattr(client, "model", ""),
            input_text=prompt,
            output=candidate,
            duration_ms=duration,
            detail={"channel": channel, "accepted": report["ok"], "feature": PURPOSE},
        )
        results[channel] = {
            "accepted": report["ok"],
            "violations": report["violations"],
            "candidate": candidate,
        }
        if report["ok"]:
            texts[channel] = candidate
    out = apply_texts(out, texts)
    out["polish"] = {
        "used": True,
        "channels": results,
        "engine": getattr(client, "name", type(client).__name__),
        "model": getattr(client, "model", ""),
    }
    return out


class OpenAICompatibleClient:
    """A chat-completions client for NOTICE_LLM_URL (through the egress policy)."""

    name = "openai-compatible"

    def __init__(self, url: str, model: str, api_key: str | None = None, timeout: float = 60):
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def complete(self, prompt: str, max_tokens: int = 512) -> str:
        from disaster_ai.egress import outbound_request

        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        body = json.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": max_tokens,
                "temperature": 0,
            }
        ).encode("utf-8")
        raw = outbound_request(
            self.url,
            purpose=PURPOSE,
            app_name="notices",
            data=body,
            headers=headers,
            timeout=self.timeout,
            data_class="public",  # a notice text; the inventory's notices.polish receives only this
            component="notices.polish",
        )
        return json.loads(raw)["choices"][0]["message"]["content"]


def default_client(config, purpose: str):
    """The core default, chosen by config: NOTICE_LLM_URL → an OpenAI-compatible client;
    else NOTICE_LLM_LOCAL_PATH → a local transformers client; neither → None (no polish)."""
    if not purpose.startswith("notices."):
        return None
    url = config.get("NOTICE_LLM_URL")
    if url:
        return OpenAICompatibleClient(
            url, config.get("NOTICE_LLM_MODEL") or "default", config.get("NOTICE_LLM_API_KEY")
        )
    local_path = config.get("NOTICE_LLM_LOCAL_PATH")
    if local_path:
        from disaster_ai.apps.notices.local_llm import LocalTransformersClient

        return LocalTransformersClient(local_path, threads=config.get("NOTICE_LLM_LOCAL_THREADS"))
    return None
