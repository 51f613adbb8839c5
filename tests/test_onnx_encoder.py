"""The int8 encoder as an ONNX Runtime graph: the torch int8 path's semantics without torch.

Real checkpoints (the converted e5-small, the shipped fine-tuned layers, small random BERT and
XLM-R models saved by transformers), real ONNX Runtime sessions; nothing stubbed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
OVERLAY = ROOT / "models" / "default" / "encoder_top.safetensors"

TEXTS = [
    "التوصيل تأخر ساعتين والأكل وصل بارد",
    "سفارش دیر رسید و غذا سرد بود",
    "الخدمة ممتازة وسريعة، شكرا لكم",
    "پیک خیلی مودب بود، ممنون",
    "التطبيق يعلق كل مرة أفتح الفاتورة ولا أحد يرد على الشكاوى في خدمة العملاء منذ أسبوع كامل",
    "قیمت بسته‌های اینترنت هر ماه بالاتر میره، آنتن‌دهی تو خونه ضعیفه و پشتیبانی هم جواب درستی نمیده",
    "ok",
    "سؤال: هل عندكم جلسات عائلية؟",
    "اپ بانک بعد از آپدیت باز نمیشه 😡😡",
    "ژ ﷺ 漢字 Ωμέγα",
    "الجودة عادية والسعر مرتفع",
    "بسته‌بندی خوب بود ولی یکی از آیتم‌ها جا مانده بود",
]


@pytest.fixture(scope="module", params=[False, True], ids=["base", "overlay"])
def pair(request, e5_dir: Path, cache: Path):
    """The int8 encoder on ONNX Runtime and on torch, base checkpoint or with the shipped fine-tuned layers."""
    from sada.models.encoder import Encoder

    overlay = OVERLAY if request.param else None
    if overlay is not None and not overlay.is_file():
        pytest.skip("no committed fine-tuned layers in models/default")
    graph = Encoder.from_pretrained(e5_dir, cache_dir=cache, quantize=True, overlay=overlay, runtime="onnx")
    torch_int8 = Encoder.from_pretrained(e5_dir, cache_dir=cache, quantize=True, overlay=overlay, runtime="torch")
    return graph, torch_int8


def test_graph_gives_the_torch_int8_vectors(pair) -> None:
    """Same weights, same int8 rule: the vectors agree up to float rounding (a rounding that flips one int8
    code in one layer moves the later layers a little, so not bit for bit); the identity is the same."""
    graph, torch_int8 = pair
    assert graph.runtime == "onnx" and torch_int8.runtime == "torch" and graph.model is None
    assert graph.sha256 == torch_int8.sha256 and graph.dim == torch_int8.dim == 384
    a, b = graph.encode(TEXTS), torch_int8.encode(TEXTS)
    cos = (a * b).sum(axis=1)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert cos.min() >= 0.995 and cos.mean() >= 0.998, cos
    assert np.abs(a - b).max() <= 0.03


def test_graph_vectors_do_not_depend_on_batch_neighbours(pair) -> None:
    """Bit for bit: alone, in file order, shuffled into batches of 3."""
    graph, _ = pair
    together = graph.encode(TEXTS, batch_size=16)
    alone = np.stack([graph.encode([t])[0] for t in TEXTS])
    order = np.random.default_rng(0).permutation(len(TEXTS))
    shuffled = np.empty_like(together)
    shuffled[order] = graph.encode([TEXTS[i] for i in order], batch_size=3)
    assert np.array_equal(together, alone) and np.array_equal(together, shuffled)


@pytest.mark.parametrize("runtime", ["onnx", "torch"])
def test_the_plain_encoder_shares_the_tokenizer_and_word_table(e5_dir: Path, cache: Path, runtime: str) -> None:
    """The fine-tuned encoder without its overlay: the base checkpoint's int8 vectors, bit for bit, on the
    same runtime, with the same tokenizer and word-embedding table objects (memory grows by the layers only)."""
    from sada.models.encoder import Encoder

    if not OVERLAY.is_file():
        pytest.skip("no committed fine-tuned layers in models/default")
    tuned = Encoder.from_pretrained(e5_dir, cache_dir=cache, quantize=True, overlay=OVERLAY, runtime=runtime)
    plain = tuned.without_overlay()
    base = Encoder.from_pretrained(e5_dir, cache_dir=cache, quantize=True, runtime=runtime)
    assert plain.runtime == runtime and plain.quantized and plain.overlay is None and plain.sha256 == base.sha256
    assert plain.tokenizer is tuned.tokenizer
    if runtime == "onnx":
        assert plain._graph[2] is tuned._graph[2]
    else:
        assert plain.model.embeddings.word_embeddings is tuned.model.embeddings.word_embeddings
    vectors = plain.encode(TEXTS)
    assert np.array_equal(vectors, base.encode(TEXTS))
    assert not np.allclose(vectors, tuned.encode(TEXTS), atol=1e-3)  # the overlay is not in it
    assert base.without_overlay() is base


def test_int8_layer_is_exact_integer_arithmetic() -> None:
    """One Linear layer of the graph against int8 x int8 -> int32 products computed in numpy, bit for bit, and
    against torch's RowInt8Linear; activations with outliers and exact halves (rounding ties)."""
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper

    from sada.models import onnx_encoder
    from sada.models.encoder import RowInt8Linear

    rng = np.random.default_rng(1)
    weight = (rng.normal(size=(96, 64)) * 0.05).astype(np.float32)
    bias = rng.normal(size=96).astype(np.float32)
    x = (rng.normal(size=(3, 7, 64)) * 3).astype(np.float32)
    x[0, 0, 5], x[1, 2] = 80.0, np.round(x[1, 2])  # an outlier; a row whose codes hit .5 ties
    spec = onnx_encoder.GraphSpec("bert", 64, 2, 1, 1e-12, "absolute", 1, 16)
    g = onnx_encoder._Graph(spec, {"l.weight": weight, "l.bias": bias})
    g.linear("x", "l")
    g.nodes[-1].output[0] = "y"
    model = helper.make_model(helper.make_graph(
        g.nodes, "one_layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], g.inits),
        opset_imports=[helper.make_opsetid("", 17)])
    got = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    codes, w_scale = onnx_encoder.quantize_weight(weight)
    rows = x.reshape(-1, 64)
    scale = np.maximum(np.abs(rows).max(axis=1, keepdims=True), np.float32(1e-12)) / np.float32(127)
    products = np.round(rows / scale).astype(np.int32) @ codes.T.astype(np.int32)
    expected = ((products.astype(np.float32) * scale) * w_scale + bias).reshape(3, 7, 96)
    assert np.array_equal(got, expected)
    linear = torch.nn.Linear(64, 96)
    linear.weight.data, linear.bias.data = torch.from_numpy(weight), torch.from_numpy(bias)
    layer = RowInt8Linear(linear)
    assert np.array_equal(layer.weight_t.numpy(), codes.T)
    assert np.abs(layer(torch.from_numpy(x)).numpy() - got).max() <= 1e-5


def test_classifying_never_imports_torch(cache: Path) -> None:
    """With the ONNX runtime the shipped classifier (int8) classifies, in a fresh process, without importing
    torch or transformers."""
    code = ("import sys, sada; rows = sada.analyze_texts(['التوصيل تأخر كثيرا', 'پیک دیر رسید']); "
            "print(rows[0]['sentiment'] in ('negative', 'neutral', 'positive'), 'torch' in sys.modules, "
            "'transformers' in sys.modules)")
    env = {**os.environ, "SADA_ENCODER_RUNTIME": "onnx", "SADA_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["True", "False", "False"], out.stderr[-2000:]


def test_graph_is_cached_per_encoder_and_overlay(e5_dir: Path, cache: Path) -> None:
    from sada.models import onnx_encoder
    from sada.models.encoder import Encoder, checkpoint_sha256

    if not OVERLAY.is_file():
        pytest.skip("no committed fine-tuned layers in models/default")
    base = onnx_encoder.graph_file(cache, checkpoint_sha256(e5_dir))
    tuned = onnx_encoder.graph_file(cache, checkpoint_sha256(e5_dir, OVERLAY))
    assert base != tuned
    Encoder.from_pretrained(e5_dir, cache_dir=cache, quantize=True, overlay=OVERLAY, runtime="onnx")
    built = tuned.stat().st_mtime_ns
    Encoder.from_pretrained(e5_dir, cache_dir=cache, quantize=True, overlay=OVERLAY, runtime="onnx")
    assert tuned.stat().st_mtime_ns == built  # read back, not rebuilt
    assert not list(tuned.parent.glob("*.tmp"))  # written atomically


def test_runtime_setting_is_validated(e5_dir: Path, cache: Path, monkeypatch) -> None:
    from sada.models.encoder import Encoder
    from sada.pipeline.errors import ConfigError

    monkeypatch.setenv("SADA_ENCODER_RUNTIME", "onnx")
    assert Encoder.from_pretrained(e5_dir, cache_dir=cache, quantize=True).runtime == "onnx"
    monkeypatch.setenv("SADA_ENCODER_RUNTIME", "tensorrt")
    with pytest.raises(ConfigError, match="SADA_ENCODER_RUNTIME.*onnx, torch.*'tensorrt'"):
        Encoder.from_pretrained(e5_dir, cache_dir=cache, quantize=True)
    monkeypatch.delenv("SADA_ENCODER_RUNTIME")
    assert Encoder.from_pretrained(e5_dir, cache_dir=cache, quantize=True).runtime == "torch"  # the default
    monkeypatch.setenv("SADA_ENCODER_RUNTIME", "onnx")
    assert Encoder.from_pretrained(e5_dir, cache_dir=cache, quantize=False).runtime == "torch"  # fp32: torch


def _small_checkpoint(folder: Path, kind: str) -> Path:
    """A random two-layer BERT or XLM-R checkpoint with a WordPiece tokenizer, saved as transformers saves one."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set("".join(TEXTS).replace(" ", "")))
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(str(folder))
    torch.manual_seed(0)
    size = dict(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=64, pad_token_id=0)
    model = BertModel(BertConfig(**size)) if kind == "bert" else XLMRobertaModel(XLMRobertaConfig(**size))
    model.save_pretrained(str(folder))
    return folder


@pytest.mark.parametrize("kind", ["bert", "xlm-roberta"])
def test_other_bert_and_xlmr_checkpoints_run_on_the_graph(tmp_path: Path, kind: str) -> None:
    """Other head counts, sizes and XLM-R's position numbering (after the padding id) give the torch vectors."""
    from sada.models.encoder import Encoder

    folder = _small_checkpoint(tmp_path / kind, kind)
    assert json.loads((folder / "config.json").read_text())["model_type"] == kind
    graph = Encoder.from_pretrained(folder, cache_dir=tmp_path, quantize=True, runtime="onnx")
    torch_int8 = Encoder.from_pretrained(folder, cache_dir=tmp_path, quantize=True, runtime="torch")
    assert graph.runtime == "onnx" and graph.dim == 32
    cos = (graph.encode(TEXTS) * torch_int8.encode(TEXTS)).sum(axis=1)
    assert cos.min() >= 0.995, cos


def test_unknown_architecture_falls_back_to_torch(tmp_path: Path) -> None:
    """A checkpoint the builder does not know (here: relative position embeddings) runs int8 on torch."""
    from sada.models.encoder import Encoder

    folder = _small_checkpoint(tmp_path / "rel", "bert")
    config = json.loads((folder / "config.json").read_text())
    config["position_embedding_type"] = "relative_key"
    (folder / "config.json").write_text(json.dumps(config))
    enc = Encoder.from_pretrained(folder, cache_dir=tmp_path, quantize=True, runtime="onnx")
    assert enc.runtime == "torch" and enc.encode(TEXTS[:2]).shape == (2, 32)
