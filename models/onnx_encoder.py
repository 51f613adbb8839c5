"""The int8 sentence encoder as an ONNX Runtime graph: inference without PyTorch.

:func:`build_graph` writes a BERT / XLM-R encoder (the architectures of the shipped e5-small
conversion and of most Arabic and Persian checkpoints) as an ONNX graph with the ``onnx``
package's helper API, straight from the checkpoint's safetensors weights and the optional
fine-tuned overlay: no torch is needed to build or run it. The semantics are those of the
torch int8 path (:class:`sada.models.encoder.RowInt8Linear`):

* every Linear layer has int8 weights, one scale per output channel, and quantises its input per
  token row (``max|x| / 127``); the product is exact integer arithmetic (``MatMulInteger``, int32
  accumulation), rescaled per row and per channel, plus the bias. A token's output is a function of
  that token's row alone, so an item's vector never depends on its batch neighbours;
* position and token-type embeddings, LayerNorms, attention, GELU, mean pooling over the attention
  mask and L2 normalisation run inside the graph in float32;
* the word-embedding table (366 MiB for e5-small) stays out of the graph: the caller reads the rows
  a batch needs from the safetensors file (``os.pread``) and feeds them with an index.

The activations are fed to ``MatMulInteger`` as uint8 with a zero point of 128 (int8 code + 128) and
the weights as uint8 with a zero point of 128 too: ``(a - 128) (w - 128)`` summed in int32 is exactly the
int8 x int8 product, and ONNX Runtime's CPU kernel is exact for uint8 x uint8 on every x86 and Arm
CPU (the u8 x s8 kernels of AVX2 machines saturate 16-bit pair sums; see :data:`_ZERO_POINT`).

:func:`ensure_graph` caches the built file under ``<cache>/encoders/onnx/`` keyed on the encoder's
sha256 (overlay included) and :data:`GRAPH_VERSION`, written atomically; :class:`GraphRunner` runs it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sada.models.checkpoint_config import CheckpointConfig
from sada.pipeline.errors import ConfigError, ModelNotFoundError

__all__ = ["GRAPH_VERSION", "RUNTIME_ENV", "RUNTIMES", "GraphRunner", "GraphSpec", "build_graph", "check_runtime",
           "encoder_runtime", "ensure_graph", "graph_file", "graph_spec", "position_ids", "quantize_weight"]

logger = logging.getLogger(__name__)

#: Bump when the graph's construction changes: cached graphs of another version are rebuilt.
GRAPH_VERSION = 2
#: Environment variable that picks the int8 encoder's runtime.
RUNTIME_ENV = "SADA_ENCODER_RUNTIME"
#: ``torch`` (the default: the PyTorch int8 modules) or ``onnx`` (ONNX Runtime, no torch imported).
RUNTIMES = ("onnx", "torch")
#: Largest magnitude of a signed int8 code (symmetric quantisation), as in the torch path.
_INT8_MAX = 127.0
#: uint8 zero point of activations and weights: code + 128 lies in [1, 255].
_ZERO_POINT = 128
_OPSET = 17
#: ``1`` lets the pool's threads spin between batches (ONNX Runtime's default; off here, see GraphRunner).
_SPIN_ENV = "SADA_ONNX_SPIN"
#: Architectures the builder writes (``model_type`` in config.json) and how each numbers positions.
_POSITIONS = {"bert": "absolute", "xlm-roberta": "after_padding", "roberta": "after_padding",
              "camembert": "after_padding"}


def encoder_runtime() -> str:
    """The runtime of int8 encoders: ``SADA_ENCODER_RUNTIME`` (``onnx`` or ``torch``), ``torch`` when unset.

    PyTorch is the default because it is faster on a dedicated machine: 512 SnappFood reviews end to end
    on 2 idle cores ran at 94.3 items/s with PyTorch's int8 and 49.4 with this graph (59.1 with spinning
    threads); its ``MatMulInteger`` on uint8 x uint8 (the form that is exact on every x86 CPU) takes 43 % of
    the graph's time. ONNX Runtime is the choice where memory counts: 969 MB peak RSS against 1,611 MB,
    and no torch import on Dask workers.

    Raises:
        ConfigError: The variable holds another value.
    """
    return check_runtime(os.environ.get(RUNTIME_ENV, "").strip().lower() or "torch", RUNTIME_ENV)


def check_runtime(value: str, name: str = "runtime") -> str:
    """``value`` when it names a runtime of :data:`RUNTIMES`.

    Raises:
        ConfigError: It does not; the message names ``name``.
    """
    if value not in RUNTIMES:
        raise ConfigError(f"invalid {name}: expected one of {', '.join(RUNTIMES)}, found {value!r}; "
                          f"use torch (the default, PyTorch) or onnx (ONNX Runtime, less memory)")
    return value


@dataclass(frozen=True)
class GraphSpec:
    """What the builder needs from a checkpoint's config.json.

    Args:
        model_type: ``bert``, ``xlm-roberta``...
        hidden: Hidden size.
        heads: Attention heads.
        layers: Transformer layers.
        eps: LayerNorm epsilon.
        positions: ``absolute`` (0, 1, ...) or ``after_padding`` (XLM-R: pad id + 1, + 2, ... over non-pad tokens).
        pad_id: Padding token id (XLM-R's position offset).
        max_positions: Rows of the position table.
    """

    model_type: str
    hidden: int
    heads: int
    layers: int
    eps: float
    positions: str
    pad_id: int
    max_positions: int


def graph_spec(path: Path) -> GraphSpec | None:
    """The :class:`GraphSpec` of a checkpoint directory, or None when the builder does not know its architecture.

    Known: BERT and XLM-R/RoBERTa encoders with absolute positions, GELU (erf) and one ``model.safetensors``.
    """
    config = CheckpointConfig.from_json(Path(path))
    kind = config.model_type
    shape = (config.hidden_size, config.num_attention_heads, config.num_hidden_layers, config.max_position_embeddings)
    if (kind not in _POSITIONS or config.hidden_act != "gelu" or config.position_embedding_type != "absolute"
            or None in shape or not (Path(path) / "model.safetensors").is_file()):
        return None
    return GraphSpec(kind, int(config.hidden_size), int(config.num_attention_heads), int(config.num_hidden_layers),
                     float(config.layer_norm_eps), _POSITIONS[kind], config.pad_token_id or 0,
                     int(config.max_position_embeddings))


def position_ids(spec: GraphSpec, input_ids: np.ndarray) -> np.ndarray:
    """Position ids of a padded ``(batch, length)`` id array, numbered as the architecture does.

    Example:
        >>> spec = GraphSpec("xlm-roberta", 8, 2, 1, 1e-5, "after_padding", 1, 16)
        >>> position_ids(spec, np.array([[0, 5, 2, 1]])).tolist()
        [[2, 3, 4, 1]]
    """
    if spec.positions == "absolute":
        return np.broadcast_to(np.arange(input_ids.shape[1], dtype=np.int64), input_ids.shape).copy()
    real = (input_ids != spec.pad_id).astype(np.int64)
    return np.cumsum(real, axis=1) * real + spec.pad_id


def quantize_weight(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Int8 codes and per-output-channel scales of an ``(out, in)`` float weight, as :class:`RowInt8Linear` makes them.

    Example:
        >>> codes, scale = quantize_weight(np.array([[1.0, -0.5], [0.0, 0.0]], dtype=np.float32))
        >>> codes.tolist(), scale.dtype.name
        ([[127, -64], [0, 0]], 'float32')
    """
    weight = weight.astype(np.float32)
    scale = np.maximum(np.abs(weight).max(axis=1), np.float32(1e-12)) / np.float32(_INT8_MAX)
    codes = np.clip(np.round(weight / scale[:, None]), -_INT8_MAX, _INT8_MAX).astype(np.int8)
    return codes, scale.astype(np.float32)


def _load_weights(path: Path, overlay: Path | None) -> dict[str, np.ndarray]:
    """Every float weight but the word-embedding table, keys without the model prefix, the overlay on top."""
    from safetensors import safe_open

    weights: dict[str, np.ndarray] = {}
    with safe_open(str(Path(path) / "model.safetensors"), framework="numpy") as fh:
        keys = list(fh.keys())
        table = next(k for k in keys if k.endswith("embeddings.word_embeddings.weight"))
        prefix = table[: -len("embeddings.word_embeddings.weight")]
        for key in keys:
            if key != table and key.startswith(prefix):
                weights[key[len(prefix):]] = fh.get_tensor(key).astype(np.float32)
    if overlay is not None:
        with safe_open(str(overlay), framework="numpy") as fh:
            for key in fh.keys():
                value = fh.get_tensor(key).astype(np.float32)
                if key not in weights or weights[key].shape != value.shape:
                    raise ModelNotFoundError(f"{overlay} does not fit encoder {path}: expected weights of its "
                                             f"layers, found {key!r}; retrain with `sada train --finetune`")
                weights[key] = value
    return weights


class _Graph:
    """Accumulates the nodes and initializers of one graph; each method adds one block and returns its output name."""

    def __init__(self, spec: GraphSpec, weights: dict[str, np.ndarray]) -> None:
        from onnx import helper, numpy_helper

        self.spec, self.weights, self.helper, self.numpy_helper = spec, weights, helper, numpy_helper
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._count = 0
        self.const("zp", np.array(_ZERO_POINT, dtype=np.uint8))
        self.const("int8_max", np.array(_INT8_MAX, dtype=np.float32))
        self.const("tiny", np.array(1e-12, dtype=np.float32))
        self.const("one", np.array(1.0, dtype=np.float32))
        self.const("shift", np.array(float(_ZERO_POINT), dtype=np.float32))
        self.const("axis1", np.array([1], dtype=np.int64))
        self.const("axis2", np.array([2], dtype=np.int64))

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], **attrs: Any) -> str:
        self._count += 1
        out = f"{kind.lower()}_{self._count}"
        self.nodes.append(self.helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    def linear(self, x: str, name: str) -> str:
        """Per-row int8 linear layer ``name`` (weights ``name.weight`` ``(out, in)`` and ``name.bias``)."""
        codes, scale = quantize_weight(self.weights[f"{name}.weight"])
        w = self.const(f"{name}.w_u8", (codes.T.astype(np.int16) + _ZERO_POINT).astype(np.uint8))
        w_scale = self.const(f"{name}.w_scale", scale)
        row_scale = self.op("Div", [self.op("Max", [self.op("ReduceMax", [self.op("Abs", [x])], axes=[-1], keepdims=1),
                                                    "tiny"]), "int8_max"])
        shifted = self.op("Add", [self.op("Round", [self.op("Div", [x, row_scale])]), "shift"])
        product = self.op("MatMulInteger", [self.op("Cast", [shifted], to=2), w, "zp", "zp"])  # 2: uint8
        out = self.op("Mul", [self.op("Mul", [self.op("Cast", [product], to=1), row_scale]), w_scale])  # 1: float
        bias = self.weights.get(f"{name}.bias")
        return out if bias is None else self.op("Add", [out, self.const(f"{name}.b", bias)])

    def layer_norm(self, x: str, name: str) -> str:
        gamma = self.const(f"{name}.weight", self.weights[f"{name}.weight"])
        beta = self.const(f"{name}.bias", self.weights[f"{name}.bias"])
        return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=self.spec.eps)

    def heads(self, x: str, shape: str, perm: list[int]) -> str:
        return self.op("Transpose", [self.op("Reshape", [x, shape])], perm=perm)

    def attention(self, x: str, prefix: str, bias: str) -> str:
        spec = self.spec
        head_dim = spec.hidden // spec.heads
        shape = self.const(f"{prefix}.heads_shape", np.array([0, 0, spec.heads, head_dim], dtype=np.int64))
        q = self.heads(self.linear(x, f"{prefix}.self.query"), shape, [0, 2, 1, 3])
        k = self.heads(self.linear(x, f"{prefix}.self.key"), shape, [0, 2, 3, 1])
        v = self.heads(self.linear(x, f"{prefix}.self.value"), shape, [0, 2, 1, 3])
        scale = self.const(f"{prefix}.scale", np.array(1.0 / np.sqrt(head_dim), dtype=np.float32))
        scores = self.op("Add", [self.op("Mul", [self.op("MatMul", [q, k]), scale]), bias])
        context = self.op("Transpose", [self.op("MatMul", [self.op("Softmax", [scores], axis=-1), v])], perm=[0, 2, 1, 3])
        merged = self.op("Reshape", [context, self.const(f"{prefix}.merge_shape",
                                                            np.array([0, 0, spec.hidden], dtype=np.int64))])
        return self.layer_norm(self.op("Add", [self.linear(merged, f"{prefix}.output.dense"), x]),
                               f"{prefix}.output.LayerNorm")

    def feed_forward(self, x: str, prefix: str) -> str:
        inner = self.linear(x, f"{prefix}.intermediate.dense")
        erf = self.op("Erf", [self.op("Mul", [inner, self.const(f"{prefix}.rsqrt2",
                                                                  np.array(1 / np.sqrt(2), dtype=np.float32))])])
        gelu = self.op("Mul", [self.op("Mul", [inner, self.op("Add", [erf, "one"])]),
                               self.const(f"{prefix}.half", np.array(0.5, dtype=np.float32))])
        return self.layer_norm(self.op("Add", [self.linear(gelu, f"{prefix}.output.dense"), x]),
                               f"{prefix}.output.LayerNorm")

    def embeddings(self) -> str:
        words = self.op("Gather", ["word_rows", "word_index"], axis=0)
        types = self.const("token_type_row", self.weights["embeddings.token_type_embeddings.weight"][0])
        positions = self.op("Gather", [self.const("position_table", self.weights["embeddings.position_embeddings.weight"]),
                                       "position_ids"], axis=0)
        return self.layer_norm(self.op("Add", [self.op("Add", [words, types]), positions]), "embeddings.LayerNorm")

    def pool(self, x: str, mask: str) -> str:
        """Mean over the mask and L2 normalisation, each item on its own: the sum is a ``(1, length) x (length,
        hidden)`` product per item, so its order does not depend on the batch (a ReduceSum over the batch's
        axis 1 sums in another order for one item than for several)."""
        m = self.op("Unsqueeze", [mask, "axis1"])  # (batch, 1, length)
        summed = self.op("Squeeze", [self.op("MatMul", [m, x]), "axis1"])
        count = self.op("Max", [self.op("ReduceSum", [mask, "axis1"], keepdims=1), "one"])
        mean = self.op("Div", [summed, count])
        norm = self.op("Sqrt", [self.op("Squeeze", [self.op("MatMul", [self.op("Unsqueeze", [mean, "axis1"]),
                                                                         self.op("Unsqueeze", [mean, "axis2"])]),
                                                    "axis1"])])
        return self.op("Div", [mean, self.op("Max", [norm, "tiny"])])


def build_graph(spec: GraphSpec, weights: dict[str, np.ndarray]) -> Any:
    """The encoder as an ``onnx.ModelProto``: inputs ``word_rows`` ``(rows, hidden)`` float, ``word_index`` and
    ``position_ids`` ``(batch, length)`` int64, ``attention_mask`` ``(batch, length)`` float; output ``vectors``
    ``(batch, hidden)``, mean-pooled over the mask and L2-normalised.

    Args:
        spec: The architecture (:func:`graph_spec`).
        weights: Float weights by name without the model prefix (:func:`_load_weights`), word embeddings excluded.
    """
    from onnx import TensorProto, helper

    g = _Graph(spec, weights)
    mask = "attention_mask"
    # additive mask: 0 where attended, the float32 minimum on padding (as transformers does)
    bias = g.op("Mul", [g.op("Sub", ["one", mask]), g.const("mask_min", np.array(np.finfo(np.float32).min, np.float32))])
    bias = g.op("Unsqueeze", [bias, g.const("axes_12", np.array([1, 2], dtype=np.int64))])
    x = g.embeddings()
    for i in range(spec.layers):
        x = g.attention(x, f"encoder.layer.{i}.attention", bias)
        x = g.feed_forward(x, f"encoder.layer.{i}")
    out = g.pool(x, mask)
    g.nodes[-1].output[0] = "vectors"
    del out
    inputs = [helper.make_tensor_value_info("word_rows", TensorProto.FLOAT, ["rows", spec.hidden]),
              helper.make_tensor_value_info("word_index", TensorProto.INT64, ["batch", "length"]),
              helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch", "length"]),
              helper.make_tensor_value_info(mask, TensorProto.FLOAT, ["batch", "length"])]
    outputs = [helper.make_tensor_value_info("vectors", TensorProto.FLOAT, ["batch", spec.hidden])]
    graph = helper.make_graph(g.nodes, "sada_int8_encoder", inputs, outputs, g.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="sada")


def graph_file(cache_dir: Path, sha256: str) -> Path:
    """Where the graph of the encoder with content hash ``sha256`` is cached."""
    return Path(cache_dir) / "encoders" / "onnx" / f"{sha256[:32]}-v{GRAPH_VERSION}.onnx"


def ensure_graph(path: Path, overlay: Path | None, sha256: str, cache_dir: Path, spec: GraphSpec) -> Path:
    """The cached graph file of the checkpoint ``path`` (+ ``overlay``), built and written atomically on first use."""
    target = graph_file(cache_dir, sha256)
    if target.is_file():
        return target
    import onnx

    model = build_graph(spec, _load_weights(path, overlay))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(model.SerializeToString())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    for stale in target.parent.glob(f"{sha256[:32]}-v*.onnx"):  # the same encoder's graphs of older builders
        if stale != target:
            stale.unlink(missing_ok=True)
    logger.info("built the ONNX graph of encoder %s (%s) at %s", path, sha256[:12], target)
    return target


class GraphRunner:
    """An ONNX Runtime session of an encoder graph on a fixed number of cores.

    The pool has ``threads`` threads whatever thread calls :meth:`run` (PyTorch's count belongs to the
    calling thread), none pinned to a core (ONNX Runtime pins only the threads of a pool it sizes
    itself; two Dask workers must not be pinned to the same cores), and they sleep between batches
    instead of spinning, so the tokenizer and the heads of the same process keep their cores.

    Args:
        file: The graph (:func:`ensure_graph`).
        threads: Threads of the intra-op pool; None: every core this process may run on.
    """

    def __init__(self, file: Path, threads: int | None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or len(os.sched_getaffinity(0)))
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.use_deterministic_compute = True
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", os.environ.get(_SPIN_ENV, "0"))
        self.threads = threads
        self.session = ort.InferenceSession(str(file), sess_options=options, providers=["CPUExecutionProvider"])

    def run(self, word_rows: np.ndarray, word_index: np.ndarray, positions: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Unit vectors ``(batch, hidden)`` of one padded batch."""
        feeds = {"word_rows": np.ascontiguousarray(word_rows, dtype=np.float32),
                 "word_index": word_index.astype(np.int64), "position_ids": positions.astype(np.int64),
                 "attention_mask": mask.astype(np.float32)}
        return self.session.run(["vectors"], feeds)[0]
