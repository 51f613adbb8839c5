"""How close the main job runs to its classifier: items/s of each, in one benchmark run.

Usage:
    python -m benchmarks.bench_pipeline [--rows 3502 20000] [--skip-run]

For each input size (the sample corpus's texts, repeated with a running number so every row
is a new item; see :func:`benchmarks.bench_flow.write_input`) it measures, one after another
in this process and on the same machine state:

* ``classifier``: ``Classifier.predict`` alone on the input's texts, in the pipeline's batches
  (language ID done beforehand, model loaded beforehand): the ceiling, measured before and after the
  two others and averaged, as a shared VM's speed drifts between them;
* ``sada analyze``: :func:`sada.pipeline.analyze.analyze` on the CSV into a fresh SQLite
  store: read, validate, language ID, normalise, classify, store;
* ``sada run``: the real command in a subprocess (Prefect flow, ephemeral server, 2 threads),
  fresh store and fresh Prefect home (:func:`benchmarks.bench_flow.fresh_prefect_home`: no
  classification is read back from an earlier run's result cache): the summary's analyse-step
  rows/s, and the whole command's wall time (Prefect start-up, model load and the report included).

The target of issues 13 and 24 is ``sada run``'s analyse step >= 0.8x the classifier's items/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_flow import fresh_prefect_home, write_input


def classifier_items_per_second(source: Path, batch_size: int) -> float:
    import pandas as pd

    from sada.models.classifier import load_classifier
    from sada.pipeline.language import default_identifier

    texts = pd.read_csv(source)["text"].astype(str).tolist()
    languages = [g.language for g in default_identifier().predict(texts)]
    keep = [(t, lang) for t, lang in zip(texts, languages) if lang != "unsupported"]
    classifier = load_classifier()
    classifier.predict([keep[0][0]], [keep[0][1]])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(keep), batch_size):
        chunk = keep[i:i + batch_size]
        classifier.predict([t for t, _ in chunk], [lang for _, lang in chunk])
    return len(keep) / (time.perf_counter() - start)


def analyze_rows_per_second(source: Path, tmp: Path) -> float:
    from sada.models.classifier import load_classifier
    from sada.pipeline.analyze import analyze
    from sada.pipeline.config import load_settings
    from sada.pipeline.store import Store

    settings = load_settings(database_url=f"sqlite:///{tmp / 'analyze.sqlite'}")
    store = Store.open(settings.database_url)
    classifier = load_classifier()
    start = time.perf_counter()
    summary = analyze([str(source)], store, settings, classifier=classifier)
    return summary.rows_read / (time.perf_counter() - start)


def sada_run(source: Path, tmp: Path) -> tuple[float, float, int]:
    """(analyse-step rows/s from the summary, whole-command rows/s, rows) of ``sada run``."""
    sada = Path(sys.executable).with_name("sada")
    start = time.perf_counter()
    out = subprocess.run([str(sada), "run", "--input", str(source), "--db", f"sqlite:///{tmp / 'run.sqlite'}",
                          "--report", str(tmp / "report.html"), "--json"],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - start
    summary = json.loads(out.stdout)
    return summary["items_per_second"], summary["rows_read"] / wall, summary["rows_read"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[3502, 20000])
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--skip-run", action="store_true", help="Leave out the `sada run` subprocess.")
    args = parser.parse_args()
    print("| rows | classifier items/s (before, after) | sada analyze rows/s | ratio | sada run analyse-step rows/s | ratio "
          "| sada run whole command rows/s | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            fresh_prefect_home(tmp)  # inherited by the `sada run` subprocess
            source = write_input(tmp / "input.csv", rows)
            before = classifier_items_per_second(source, args.batch_size)
            analysed = analyze_rows_per_second(source, tmp)
            step = whole = None
            if not args.skip_run:
                step, whole, _ = sada_run(source, tmp)
            after = classifier_items_per_second(source, args.batch_size)
            ceiling = (before + after) / 2  # a 2-core VM's speed drifts by 10-20 % within minutes (measured)
            cells = [f"{rows}", f"{ceiling:.1f} ({before:.1f}, {after:.1f})", f"{analysed:.1f}",
                     f"{analysed / ceiling:.2f}x"]
            if step is None or whole is None:
                cells += ["-"] * 4
            else:
                cells += [f"{step:.1f}", f"{step / ceiling:.2f}x", f"{whole:.1f}", f"{whole / ceiling:.2f}x"]
            print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
