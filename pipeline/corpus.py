"""Load the sample corpus that ships in ``corpus/``: feedback, customers, truth.

The corpus is built by ``python -m sada.corpus.build`` from the hand-written items in
``corpus/texts/*.jsonl`` and a seeded customer simulator. The loaders here only
read the built files; they never build them.

The sample corpus is research data: every loader here takes the corpus folder as its first argument
and has no default, so only the commands that are handed the folder read it (``sada run`` with no
input, ``sada reproduce``, ``sada corpus``, ``sada train --corpus``, the tests and benchmarks).
:func:`sada.corpus.sample_dir` is the one place that says where the sample corpus is
(``SADA_CORPUS_DIR`` overrides it); this lowest layer never looks for it.

Example:
    >>> from sada.pipeline.corpus import load_feedback, theme_ids
    >>> load_feedback(None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sada.pipeline.errors.CorpusError: expected a corpus folder, found None; pass the folder ...
    >>> theme_ids()[:3]
    ['delivery', 'price', 'quality']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sada.pipeline.errors import CorpusError
from sada.pipeline.nps import DETRACTOR_MAX, NPS_MAX, NPS_MIN, PROMOTER_MIN
from sada.pipeline.taxonomy import default_taxonomy_path, load_taxonomy, parse_theme_cell

__all__ = [
    "LANGUAGES",
    "VARIETIES",
    "SENTIMENTS",
    "DOMAINS",
    "SOURCES",
    "CHANNELS",
    "SPLITS",
    "FEEDBACK_COLUMNS",
    "CUSTOMER_COLUMNS",
    "NPS_RANGE",
    "RATING_RANGE",
    "corpus_folder",
    "theme_ids",
    "load_feedback",
    "load_customers",
    "load_truth",
    "corpus_stats",
]

#: Languages of the corpus.
LANGUAGES: tuple[str, ...] = ("ar", "fa")
#: Allowed ``variety`` values per language.
VARIETIES: dict[str, tuple[str, ...]] = {
    "ar": ("msa", "gulf", "egyptian", "levantine", "maghrebi", "arabizi"),
    "fa": ("formal", "colloquial", "finglish"),
}
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
DOMAINS: tuple[str, ...] = ("telecom", "ecommerce", "banking", "restaurants")
SOURCES: tuple[str, ...] = ("review", "survey", "ticket")
CHANNELS: tuple[str, ...] = ("app", "web", "call_center", "store")
SPLITS: tuple[str, ...] = ("train", "dev", "test")

#: NPS scores (survey items) allowed for each overall sentiment (inclusive ranges), in terms of
#: :mod:`sada.pipeline.nps`'s categories: a negative comment comes with a detractor's score (0-6), a
#: neutral one with a high detractor's (5-6) or a passive's (7-8), a positive one with a passive's or
#: a promoter's (7-10).
NPS_RANGE: dict[str, tuple[int, int]] = {"negative": (NPS_MIN, DETRACTOR_MAX),
                                         "neutral": (DETRACTOR_MAX - 1, PROMOTER_MIN - 1),
                                         "positive": (DETRACTOR_MAX + 1, NPS_MAX)}
#: Star ratings (review items) allowed for each overall sentiment (inclusive ranges).
RATING_RANGE: dict[str, tuple[int, int]] = {"negative": (1, 3), "neutral": (2, 4), "positive": (3, 5)}

#: Columns of the loaded feedback frame, in order.
FEEDBACK_COLUMNS: tuple[str, ...] = (
    "feedback_id", "text", "customer_id", "created_at", "source", "rating", "nps_score",
    "channel", "language", "variety", "sentiment", "themes", "theme_sentiment", "domain", "split",
)
#: Columns of the loaded customers frame, in order.
CUSTOMER_COLUMNS: tuple[str, ...] = (
    "customer_id", "language", "domain", "segment", "plan", "signup_date", "tenure_months",
    "orders", "spend", "last_activity_date", "n_feedback", "churned", "churn_date",
)

_BUILD_HINT = "run `python -m sada.corpus.build` from the repository root to build it"


def corpus_folder(corpus_dir: str | Path | None) -> Path:
    """The corpus folder a caller handed over, as a :class:`~pathlib.Path` (not checked for existence).

    Raises:
        CorpusError: None was given: the loaders never default to the sample corpus.

    Example:
        >>> corpus_folder("corpus").name
        'corpus'
    """
    if corpus_dir is None:
        raise CorpusError("expected a corpus folder, found None; pass the folder "
                          "(sada.corpus.sample_dir() for the sample corpus)")
    return Path(corpus_dir)


def _require(path: Path, what: str, hint: str = _BUILD_HINT) -> Path:
    if not path.is_file():
        raise CorpusError(f"expected {what} at {path}, found no such file; {hint} or pass the folder that holds it")
    return path


def theme_ids() -> list[str]:
    """The corpus's label set: the ids of the shipped default taxonomy, in its order."""
    return load_taxonomy(default_taxonomy_path()).ids


def _parse_json_dict(value: Any) -> dict[str, str]:
    if not isinstance(value, str) or not value:
        return {}
    return dict(json.loads(value))


def load_feedback(corpus_dir: str | Path, split: str | None = None) -> pd.DataFrame:
    """Read ``feedback.csv``: one row per labelled feedback item.

    Args:
        corpus_dir: Corpus folder (:func:`sada.corpus.sample_dir` for the sample corpus).
        split: ``"train"``, ``"dev"`` or ``"test"`` to keep one split; ``None`` for all.

    Returns:
        A DataFrame with :data:`FEEDBACK_COLUMNS`: ``themes`` is a ``list[str]``,
        ``theme_sentiment`` a ``dict[str, str]``, ``rating`` and ``nps_score`` are
        nullable integers, ``created_at`` a timestamp.

    Raises:
        CorpusError: No folder was given, the file is missing or lacks columns, or ``split`` is unknown.
    """
    if split is not None and split not in SPLITS:
        raise CorpusError(f"expected split to be one of {', '.join(SPLITS)} or None, found {split!r}; "
                          "pass a valid split name")
    path = _require(corpus_folder(corpus_dir) / "feedback.csv", "the built feedback file feedback.csv")
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [c for c in FEEDBACK_COLUMNS if c not in df.columns]
    if missing:
        raise CorpusError(f"expected columns {', '.join(FEEDBACK_COLUMNS)} in {path}, found no "
                          f"{', '.join(missing)}; {_BUILD_HINT}")
    df = df[list(FEEDBACK_COLUMNS)].copy()
    for col in ("rating", "nps_score"):
        df[col] = pd.to_numeric(df[col].replace("", None), errors="raise").astype("Int64")
    df["created_at"] = pd.to_datetime(df["created_at"], format="ISO8601")
    df["themes"] = df["themes"].map(parse_theme_cell)
    df["theme_sentiment"] = df["theme_sentiment"].map(_parse_json_dict)
    if split is not None:
        df = df[df["split"] == split].reset_index(drop=True)
    return df


def load_customers(corpus_dir: str | Path) -> pd.DataFrame:
    """Read ``customers.csv``: the simulated customer base with churn outcomes.

    Args:
        corpus_dir: Corpus folder (:func:`sada.corpus.sample_dir` for the sample corpus).

    Returns:
        A DataFrame with :data:`CUSTOMER_COLUMNS`; dates are timestamps
        (``churn_date`` is ``NaT`` for customers who stayed), ``churned`` is 0/1.

    Raises:
        CorpusError: No folder was given, or the file is missing or lacks columns.
    """
    path = _require(corpus_folder(corpus_dir) / "customers.csv", "the simulated customers file customers.csv")
    df = pd.read_csv(path, dtype={"customer_id": str}, keep_default_na=False, na_values={"churn_date": [""]})
    missing = [c for c in CUSTOMER_COLUMNS if c not in df.columns]
    if missing:
        raise CorpusError(f"expected columns {', '.join(CUSTOMER_COLUMNS)} in {path}, found no "
                          f"{', '.join(missing)}; {_BUILD_HINT}")
    for col in ("signup_date", "last_activity_date", "churn_date"):
        df[col] = pd.to_datetime(df[col], format="ISO8601")
    df["churned"] = df["churned"].astype(int)
    return df


def load_truth(corpus_dir: str | Path) -> dict[str, Any]:
    """Read ``truth.json``: the simulator's seed, story, true coefficients and per-customer churn probabilities.

    Args:
        corpus_dir: Corpus folder (:func:`sada.corpus.sample_dir` for the sample corpus).

    Returns:
        The parsed JSON object (keys include ``seed``, ``coefficients``,
        ``features``, ``customers`` and ``oracle_auc``).

    Raises:
        CorpusError: No folder was given, or the file is missing or is not valid JSON.
    """
    path = _require(corpus_folder(corpus_dir) / "truth.json", "the simulator truth file truth.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CorpusError(f"expected JSON in {path}, found a syntax error ({exc}); {_BUILD_HINT}") from None


def corpus_stats(corpus_dir: str | Path) -> dict[str, Any]:
    """Counts of the built corpus, as printed by ``sada corpus stats``.

    Args:
        corpus_dir: Corpus folder (:func:`sada.corpus.sample_dir` for the sample corpus).

    Returns:
        A JSON-serialisable dict with ``items``, ``by_language``, ``by_sentiment``,
        ``by_theme`` (items mentioning each theme, taxonomy order), ``by_domain``,
        ``by_source``, ``by_split``, ``by_language_sentiment``, ``no_theme``,
        ``customers``, ``churned``, ``churn_rate`` and ``customers_with_feedback``.

    Raises:
        CorpusError: No folder was given, or a built file is missing or malformed.
    """
    fb = load_feedback(corpus_dir)
    cu = load_customers(corpus_dir)
    ids = theme_ids()

    def counts(col: str, order: tuple[str, ...] | list[str]) -> dict[str, int]:
        vc = fb[col].value_counts()
        keys = [k for k in order if k in vc.index] + sorted(k for k in vc.index if k not in order)
        return {str(k): int(vc[k]) for k in keys}

    theme_counts = fb["themes"].explode().dropna().value_counts()
    by_lang_sent = {
        lang: {s: int(((fb["language"] == lang) & (fb["sentiment"] == s)).sum()) for s in SENTIMENTS}
        for lang in counts("language", LANGUAGES)
    }
    churned = int(cu["churned"].sum())
    return {
        "items": int(len(fb)),
        "by_language": counts("language", LANGUAGES),
        "by_sentiment": counts("sentiment", SENTIMENTS),
        "by_theme": {t: int(theme_counts.get(t, 0)) for t in ids},
        "no_theme": int((fb["themes"].map(len) == 0).sum()),
        "by_domain": counts("domain", DOMAINS),
        "by_source": counts("source", SOURCES),
        "by_split": counts("split", SPLITS),
        "by_language_sentiment": by_lang_sent,
        "customers": int(len(cu)),
        "churned": churned,
        "churn_rate": round(churned / len(cu), 4) if len(cu) else 0.0,
        "customers_with_feedback": int((cu["n_feedback"] > 0).sum()),
    }
