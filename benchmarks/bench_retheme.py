"""Re-theming time: ``sada themes apply`` over N stored items (default 100,000) for a changed taxonomy.

Builds a SQLite store in a temporary folder with N items (the sample corpus's texts, repeated with a
counter so each item is distinct), each with an analysis and a stored vector (random unit vectors:
the time does not depend on their values) as a taxonomy with a zero-shot theme (parking) gives them
(the fine-tuned and the plain encoder's vectors side by side), then runs ``sada themes apply`` with a
taxonomy that adds another theme, and prints the time and items/second (target: under 2 minutes for
100,000 on 2 cores).

Usage:
    python -m benchmarks.bench_retheme [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import yaml
from click.testing import CliRunner

from sada.cli import main as sada_cli
from sada.corpus import sample_dir
from sada.models.classifier import load_classifier
from sada.pipeline.corpus import load_feedback
from sada.pipeline.store import Store
from sada.pipeline.taxonomy import default_taxonomy_path

PARKING = {"id": "parking", "names": {"ar": "مواقف السيارات", "fa": "پارکینگ", "en": "Parking"},
           "seeds": {"ar": ["ما في مواقف"], "fa": ["جای پارک نبود"], "en": ["no parking"]}}
VALET = {"id": "valet", "names": {"ar": "خدمة صف السيارات", "fa": "پارک توسط کارکنان", "en": "Valet parking"}}


def write_themes(path: Path, *extra: dict) -> Path:
    """The default taxonomy plus ``extra`` themes, written to ``path``."""
    taxonomy = yaml.safe_load(default_taxonomy_path().read_text(encoding="utf-8"))
    path.write_text(yaml.safe_dump({"themes": [*taxonomy["themes"], *extra]}, allow_unicode=True), "utf-8")
    return path


def build_store(url: str, rows: int, encoder: str, dim: int = 384, seed: int = 0) -> None:
    corpus = load_feedback(sample_dir())
    rng = np.random.default_rng(seed)
    store = Store.open(url)
    now = datetime(2026, 11, 1)
    for start in range(0, rows, 5000):
        items, results = [], []
        for i in range(start, min(rows, start + 5000)):
            src = corpus.iloc[i % len(corpus)]
            text = f"{src['text']} #{i}"
            items.append({"feedback_id": f"b{i:07d}", "content_hash": f"{i:064d}", "raw_text": text,
                          "normalised_text": text, "language": src["language"], "created_at": now})
            vector = rng.standard_normal(dim).astype(np.float32)
            results.append({"feedback_id": f"b{i:07d}", "model_version": "bench", "sentiment": "negative",
                            "sentiment_probs": {"negative": 0.8, "neutral": 0.1, "positive": 0.1}, "themes": {},
                            "theme_sentiment": {}, "is_complaint": True, "encoder": encoder,
                            "vector": (vector / np.linalg.norm(vector)).astype("<f2").tobytes()})
        store.add_feedback(items, results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        started = time.perf_counter()
        analysed = load_classifier(themes=write_themes(Path(tmp) / "analysed.yaml", PARKING))
        build_store(url, args.rows, analysed.encoder_version, analysed.themes.input_dim)
        print(f"built a store of {args.rows:,} items in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        themes = write_themes(Path(tmp) / "themes.yaml", PARKING, VALET)
        result = CliRunner().invoke(sada_cli, ["themes", "apply", "--db", url, "--themes", str(themes), "--json"],
                                    catch_exceptions=False)
        summary = json.loads(result.stdout)
    print(f"sada themes apply: {summary['rethemed']:,} of {summary['items']:,} items re-themed in "
          f"{summary['seconds']} s ({summary['items_per_second']} items/s; {summary['encoded']} encoded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
