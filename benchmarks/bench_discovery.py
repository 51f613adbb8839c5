"""Does a theme missing from the taxonomy come back as a candidate? Discovery on the sample corpus.

For each theme named on the command line (default: billing), the sample corpus's feedback is classified
with the default taxonomy minus that theme; the complaints left with no theme (or only ``other``) are
grouped by :func:`sada.pipeline.discovery.discover`, and for each candidate the share of its items whose
corpus label has the removed theme is printed, with its key phrases.

Usage:
    python -m benchmarks.bench_discovery [--themes billing network]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import yaml

from sada.corpus import sample_dir
from sada.models.classifier import load_classifier
from sada.models.encoder import topic_vectors
from sada.pipeline.corpus import load_feedback
from sada.pipeline.discovery import discover
from sada.pipeline.taxonomy import default_taxonomy_path


def run(removed: str, frame, tmp: Path) -> None:
    taxonomy = yaml.safe_load(default_taxonomy_path().read_text(encoding="utf-8"))
    path = tmp / f"without_{removed}.yaml"
    path.write_text(yaml.safe_dump({"themes": [t for t in taxonomy["themes"] if t["id"] != removed]},
                                   allow_unicode=True), encoding="utf-8")
    classifier = load_classifier(themes=path)
    predictions = classifier.predict(frame["text"].tolist(), frame["language"].tolist())
    rows = [i for i, p in enumerate(predictions) if p.is_complaint and set(p.themes) <= {"other"}]
    items = [{"language": frame["language"].iloc[i], "raw_text": frame["text"].iloc[i],
              "normalised_text": frame["text"].iloc[i], "created_at": None} for i in rows]
    truth = [removed in frame["themes"].iloc[i] for i in rows]
    candidates = discover(items, topic_vectors([it["raw_text"] for it in items]), min_size=5)
    print(f"\nwithout {removed}: {len(rows)} uncovered complaints, {sum(truth)} of them labelled {removed}; "
          f"{len(candidates)} candidates")
    print(f"| candidate | size | labelled {removed} | key phrases |\n|---|---|---|---|")
    for c in candidates:
        share = sum(truth[i] for i in c.members) / c.size
        phrases = "; ".join(f"{lang}: {', '.join(p[:4])}" for lang, p in c.key_phrases.items())
        print(f"| {c.id} | {c.size} | {share:.0%} | {phrases} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--themes", nargs="*", default=["billing"])
    args = parser.parse_args(argv)
    frame = load_feedback(sample_dir())
    with tempfile.TemporaryDirectory() as tmp:
        for removed in args.themes:
            run(removed, frame, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
