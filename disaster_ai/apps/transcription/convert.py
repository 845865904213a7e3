"""Convert the packaged CTranslate2 Whisper weights into an openai-whisper checkpoint.

CTranslate2's ``model.bin`` is a simple container (ctranslate2/specs/model_spec.py ``_serialize``):
version, spec name, revision, then per tensor its name, rank, shape, dtype code and raw bytes,
then an alias table. numpy reads it; the tensors are then renamed into openai-whisper's layout
(fused Q/K/V split, gamma/beta → weight/bias, the output projection tied to the embedding).
``disaster-ai models convert-whisper`` writes ``instance/models/whisper-base-openai.pt``.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, None)  # None: bfloat16


def read_ct2(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """All tensors of a CTranslate2 model.bin (aliases resolved), and its header."""
    data = Path(path).read_bytes()
    offset = 0

    def take(fmt: str):
        nonlocal offset
        values = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return values[0]

    def string() -> str:
        nonlocal offset
        length = take("H")
        text = data[offset : offset + length - 1].decode("utf-8")
        offset += length
        return text

    version = take("I")
    spec = string() if version >= 2 else ""
    revision = take("I") if version >= 2 else 1
    tensors: dict[str, np.ndarray] = {}
    for _ in range(take("I")):
        name = string()
        rank = take("B")
        shape = tuple(take("I") for _ in range(rank))
        dtype = DTYPES[take("B")]
        size = take("I")
        if dtype is None:
            raise ValueError(f"{name}: bfloat16 tensors are not supported")
        tensors[name] = np.frombuffer(
            data, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=offset
        ).reshape(shape)
        offset += size
    if offset < len(data):
        for _ in range(take("I")):
            alias, target = string(), string()
            tensors[alias] = tensors[target]
    return tensors, {"version": version, "spec": spec, "revision": revision}


def _split(tensor: np.ndarray, parts: int) -> list[np.ndarray]:
    return np.split(tensor, parts, axis=0)


def _attention(out: dict, prefix: str, ct2: dict, src: str, *, fused_qkv: bool) -> None:
    if fused_qkv:
        q, k, v = _split(ct2[f"{src}/linear_0/weight"], 3)
        qb, _kb, vb = _split(ct2[f"{src}/linear_0/bias"], 3)
        out_w, out_b = ct2[f"{src}/linear_1/weight"], ct2[f"{src}/linear_1/bias"]
    else:  # cross-attention: query alone, then the fused key/value
        q, qb = ct2[f"{src}/linear_0/weight"], ct2[f"{src}/linear_0/bias"]
        k, v = _split(ct2[f"{src}/linear_1/weight"], 2)
        _kb, vb = _split(ct2[f"{src}/linear_1/bias"], 2)
        out_w, out_b = ct2[f"{src}/linear_2/weight"], ct2[f"{src}/linear_2/bias"]
    out[f"{prefix}.query.weight"], out[f"{prefix}.query.bias"] = q, qb
    out[f"{prefix}.key.weight"] = k  # openai-whisper's key projection has no bias
    out[f"{prefix}.value.weight"], out[f"{prefix}.value.bias"] = v, vb
    out[f"{prefix}.out.weight"], out[f"{prefix}.out.bias"] = out_w, out_b


def _norm(out: dict, name: str, ct2: dict, src: str) -> None:
    out[f"{name}.weight"], out[f"{name}.bias"] = ct2[f"{src}/gamma"], ct2[f"{src}/beta"]


def _layers(ct2: dict, side: str) -> int:
    return len({k.split("/")[1] for k in ct2 if re.match(rf"{side}/layer_\d+/", k)})


def to_openai_whisper(ct2: dict[str, np.ndarray]) -> tuple[dict, dict[str, np.ndarray]]:
    """(dims, state dict as float32 numpy arrays) in openai-whisper's layout."""
    out: dict[str, np.ndarray] = {}
    for conv in ("conv1", "conv2"):
        out[f"encoder.{conv}.weight"] = ct2[f"encoder/{conv}/weight"]
        out[f"encoder.{conv}.bias"] = ct2[f"encoder/{conv}/bias"]
    out["encoder.positional_embedding"] = ct2["encoder/position_encodings/encodings"]
    n_audio_layer, n_text_layer = _layers(ct2, "encoder"), _layers(ct2, "decoder")
    for i in range(n_audio_layer):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        _attention(out, f"{dst}.attn", ct2, f"{src}/self_attention", fused_qkv=True)
        _norm(out, f"{dst}.attn_ln", ct2, f"{src}/self_attention/layer_norm")
        _norm(out, f"{dst}.mlp_ln", ct2, f"{src}/ffn/layer_norm")
        for a, b in (("linear_0", "0"), ("linear_1", "2")):
            out[f"{dst}.mlp.{b}.weight"] = ct2[f"{src}/ffn/{a}/weight"]
            out[f"{dst}.mlp.{b}.bias"] = ct2[f"{src}/ffn/{a}/bias"]
    _norm(out, "encoder.ln_post", ct2, "encoder/layer_norm")
    out["decoder.token_embedding.weight"] = ct2["decoder/embeddings/weight"]
    out["decoder.positional_embedding"] = ct2["decoder/position_encodings/encodings"]
    for i in range(n_text_layer):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _attention(out, f"{dst}.attn", ct2, f"{src}/self_attention", fused_qkv=True)
        _norm(out, f"{dst}.attn_ln", ct2, f"{src}/self_attention/layer_norm")
        _attention(out, f"{dst}.cross_attn", ct2, f"{src}/attention", fused_qkv=False)
        _norm(out, f"{dst}.cross_attn_ln", ct2, f"{src}/attention/layer_norm")
        _norm(out, f"{dst}.mlp_ln", ct2, f"{src}/ffn/layer_norm")
        for a, b in (("linear_0", "0"), ("linear_1", "2")):
            out[f"{dst}.mlp.{b}.weight"] = ct2[f"{src}/ffn/{a}/weight"]
            out[f"{dst}.mlp.{b}.bias"] = ct2[f"{src}/ffn/{a}/bias"]
    _norm(out, "decoder.ln", ct2, "decoder/layer_norm")
    n_mels = ct2["encoder/conv1/weight"].shape[1]
    n_audio_ctx, n_audio_state = ct2["encoder/position_encodings/encodings"].shape
    n_text_ctx, n_text_state = ct2["decoder/position_encodings/encodings"].shape
    dims = {
        "n_mels": int(n_mels),
        "n_audio_ctx": int(n_audio_ctx),
        "n_audio_state": int(n_audio_state),
        "n_audio_head": int(ct2["encoder/num_heads"]),
        "n_audio_layer": n_audio_layer,
        "n_vocab": int(ct2["decoder/embeddings/weight"].shape[0]),
        "n_text_ctx": int(n_text_ctx),
        "n_text_state": int(n_text_state),
        "n_text_head": int(ct2["decoder/num_heads"]),
        "n_text_layer": n_text_layer,
    }
    return dims, {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def convert_openai_whisper(ct2_dir: str | Path, target: str | Path) -> Path:
    """Write an openai-whisper checkpoint (``{"dims", "model_state_dict"}``) from a CT2 folder."""
    import torch

    tensors, header = read_ct2(Path(ct2_dir) / "model.bin")
    if header["spec"] != "WhisperSpec":
        raise ValueError(f"{ct2_dir} holds a {header['spec']}, not a Whisper model")
    dims, state = to_openai_whisper(tensors)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    torch.save(
        {"dims": dims, "model_state_dict": {k: torch.from_numpy(v) for k, v in state.items()}},
        temporary,
    )
    temporary.replace(target)
    return target
