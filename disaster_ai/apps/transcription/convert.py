"""Convert the packaged CTranslate2 Whisper weights for the openai-whisper and transformers engines.

CTranslate2's ``model.bin`` is a simple container (ctranslate2/specs/model_spec.py ``_serialize``):
version, spec name, revision, then per tensor its name, rank, shape, dtype code and raw bytes,
then an alias table. numpy reads it (:func:`read_ct2`); the tensors are then renamed into
openai-whisper's layout (:func:`to_openai_whisper`: fused Q/K/V split, gamma/beta → weight/bias,
the output projection tied to the embedding), and from there into transformers' layout
(:func:`to_transformers`, a pure renaming).

``disaster-ai models convert-whisper`` writes both:

- ``instance/models/whisper-base-openai.pt`` (:func:`convert_openai_whisper`);
- ``instance/models/whisper-base-hf/`` (:func:`convert_transformers`): ``WhisperConfig`` and
  ``GenerationConfig`` built from the tensor shapes, CT2's ``config.json`` (suppress ids,
  alignment heads, language ids) and ``tokenizer.json`` (special-token ids), the weights as
  safetensors, and a ``WhisperProcessor`` (feature extractor + tokenizer made from the packaged
  ``tokenizer.json``; nothing comes from the Hub).

Both write to a temporary name and rename, so an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import tempfile
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


def read_whisper(ct2_dir: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a CT2 Whisper folder; a clear error for any other model."""
    tensors, header = read_ct2(Path(ct2_dir) / "model.bin")
    if header["spec"] != "WhisperSpec":
        raise ValueError(f"{ct2_dir} holds a {header['spec']}, not a Whisper model")
    return tensors


def convert_openai_whisper(ct2_dir: str | Path, target: str | Path) -> Path:
    """Write an openai-whisper checkpoint (``{"dims", "model_state_dict"}``) from a CT2 folder."""
    import torch

    dims, state = to_openai_whisper(read_whisper(ct2_dir))
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    torch.save(
        {"dims": dims, "model_state_dict": {k: torch.from_numpy(v) for k, v in state.items()}},
        temporary,
    )
    temporary.replace(target)
    return target


# --- transformers --------------------------------------------------------------------------------

# openai-whisper name fragment → transformers name fragment, applied in this order
_HF_RENAMES = (
    (".blocks.", ".layers."),
    (".cross_attn_ln.", ".encoder_attn_layer_norm."),
    (".attn_ln.", ".self_attn_layer_norm."),
    (".mlp_ln.", ".final_layer_norm."),
    (".mlp.0.", ".fc1."),
    (".mlp.2.", ".fc2."),
    (".cross_attn.", ".encoder_attn."),
    (".attn.", ".self_attn."),
    (".query.", ".q_proj."),
    (".key.", ".k_proj."),
    (".value.", ".v_proj."),
    (".out.", ".out_proj."),
)
_HF_WHOLE = {
    "encoder.positional_embedding": "encoder.embed_positions.weight",
    "decoder.positional_embedding": "decoder.embed_positions.weight",
    "decoder.token_embedding.weight": "decoder.embed_tokens.weight",
    "encoder.ln_post.weight": "encoder.layer_norm.weight",
    "encoder.ln_post.bias": "encoder.layer_norm.bias",
    "decoder.ln.weight": "decoder.layer_norm.weight",
    "decoder.ln.bias": "decoder.layer_norm.bias",
}


def to_transformers(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rename an openai-whisper state dict into ``WhisperForConditionalGeneration``'s layout
    (``proj_out`` is tied to the token embedding, so it is not stored)."""
    out = {}
    for name, tensor in state.items():
        renamed = _HF_WHOLE.get(name)
        if renamed is None:
            renamed = name
            for old, new in _HF_RENAMES:
                renamed = renamed.replace(old, new)
        out[f"model.{renamed}"] = tensor
    return out


def _special_ids(tokenizer_json: dict) -> dict[str, int]:
    return {t["content"]: t["id"] for t in tokenizer_json["added_tokens"]}


def transformers_configs(dims: dict, ct2_config: dict, tokenizer_json: dict):
    """(WhisperConfig, GenerationConfig) from the dimensions, CT2's config.json and the
    tokenizer's special tokens."""
    from transformers import GenerationConfig, WhisperConfig

    ids = _special_ids(tokenizer_json)
    eot, sot = ids["<|endoftext|>"], ids["<|startoftranscript|>"]
    suppress = [int(i) for i in ct2_config.get("suppress_ids", [])]
    begin_suppress = [int(i) for i in ct2_config.get("suppress_ids_begin", [220, eot])]
    config = WhisperConfig(
        vocab_size=dims["n_vocab"],
        num_mel_bins=dims["n_mels"],
        d_model=dims["n_audio_state"],
        encoder_layers=dims["n_audio_layer"],
        encoder_attention_heads=dims["n_audio_head"],
        decoder_layers=dims["n_text_layer"],
        decoder_attention_heads=dims["n_text_head"],
        encoder_ffn_dim=4 * dims["n_audio_state"],
        decoder_ffn_dim=4 * dims["n_text_state"],
        max_source_positions=dims["n_audio_ctx"],
        max_target_positions=dims["n_text_ctx"],
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
        tie_word_embeddings=True,
    )
    lang_to_id = {}
    for lang_id in ct2_config.get("lang_ids", []):
        token = next((t for t, i in ids.items() if i == lang_id), None)
        if token is not None:
            lang_to_id[token] = int(lang_id)
    generation = GenerationConfig(
        decoder_start_token_id=sot,
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        max_length=dims["n_text_ctx"],
        suppress_tokens=suppress,
        begin_suppress_tokens=begin_suppress,
        alignment_heads=[list(map(int, h)) for h in ct2_config.get("alignment_heads", [])],
        lang_to_id=lang_to_id,
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        no_timestamps_token_id=ids["<|notimestamps|>"],
        prev_sot_token_id=ids["<|startofprev|>"],
        is_multilingual=len(lang_to_id) > 1,
        max_initial_timestamp_index=50,  # 1.0 s, as openai-whisper
        return_timestamps=False,
    )
    return config, generation


def make_processor(ct2_dir: str | Path, n_mels: int = 80):
    """A WhisperProcessor built offline from the packaged tokenizer.json."""
    from transformers import WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer

    path = Path(ct2_dir) / "tokenizer.json"
    tokenizer_json = json.loads(path.read_text(encoding="utf-8"))
    special = [
        t["content"]
        for t in tokenizer_json["added_tokens"]
        if t.get("special") and t["content"] != "<|endoftext|>"
    ]
    tokenizer = WhisperTokenizer(tokenizer_file=str(path), extra_special_tokens=special)
    return WhisperProcessor(
        feature_extractor=WhisperFeatureExtractor(feature_size=n_mels), tokenizer=tokenizer
    )


def convert_transformers(ct2_dir: str | Path, target: str | Path, *, force: bool = False) -> Path:
    """Write a transformers Whisper folder (config, generation config, safetensors weights,
    processor) from a CT2 folder. Idempotent: an existing folder is kept unless ``force``."""
    import torch
    from transformers import WhisperForConditionalGeneration
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Writing model shards" bar on the CLI's stderr
    ct2_dir, target = Path(ct2_dir), Path(target)
    if (target / "model.safetensors").is_file() and not force:
        return target
    dims, state = to_openai_whisper(read_whisper(ct2_dir))
    ct2_config = json.loads((ct2_dir / "config.json").read_text(encoding="utf-8"))
    tokenizer_json = json.loads((ct2_dir / "tokenizer.json").read_text(encoding="utf-8"))
    config, generation = transformers_configs(dims, ct2_config, tokenizer_json)
    del tokenizer_json
    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    weights = {k: torch.from_numpy(v) for k, v in to_transformers(state).items()}
    missing, unexpected = model.load_state_dict(weights, strict=False, assign=True)
    missing = [k for k in missing if k != "proj_out.weight"]
    if missing or unexpected:
        raise ValueError(f"weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
    model.tie_weights()
    model.generation_config = generation
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    temporary.chmod(0o755)
    try:
        model.save_pretrained(temporary)
        make_processor(ct2_dir, dims["n_mels"]).save_pretrained(temporary)
        if target.exists():
            shutil.rmtree(target)
        temporary.replace(target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target
