"""Labelled data for training and evaluation: the corpus, the shared public sets, user files.

Every loader returns a DataFrame with at least ``text``, ``label`` (one of
``negative``/``neutral``/``positive``), ``language`` and ``source``; corpus and
ParsiNLU rows also carry ``themes`` (list of theme ids) and ``theme_mask``
(the theme ids whose presence or absence is known).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from sada.pipeline.corpus import corpus_folder, load_feedback, theme_ids
from sada.pipeline.errors import CorpusError, InputError
from sada.pipeline.language import default_identifier
from sada.pipeline.taxonomy import parse_theme_cell

__all__ = [
    "shared_datasets_dir",
    "DATASETS_ENV",
    "read_labelled",
    "map_label",
    "corpus_training_frame",
    "statements_frame",
    "STATEMENTS_SOURCE",
    "shared_training_frame",
    "SHARED_TRAIN_FILES",
    "SHARED_TEST_FILES",
    "PARSINLU_ASPECTS",
    "parse_theme_labels",
    "read_theme_labels",
    "training_frame",
    "class_quota",
    "cap_per_source",
    "held_out",
    "calibration_rows",
    "sources_with_neutral",
    "ARSARCASM",
    "HeldOutSet",
    "HELD_OUT_SETS",
    "held_out_set",
    "held_out_frames",
    "ALL_TRAIN_FILES",
    "NEW_TRAIN_FILES",
    "check_shared_files",
    "shared_source_frame",
    "theme_matrix",
]

logger = logging.getLogger(__name__)

#: Public training files of the shared datasets folder (``--datasets``; see its README).
SHARED_TRAIN_FILES = ("fa_snappfood_train.csv", "ar_elsahar_prod.csv", "ar_elsahar_res2.csv", "fa_parsinlu_food_dev.csv",
                      "ar_arsarcasm_train.csv")
#: ArSarcasm-v2's training file: a fifth of it (by :func:`held_out`) is never trained on and is the
#: held-out 3-class Arabic test set (real neutral class, dialects, sarcasm).
ARSARCASM = "ar_arsarcasm_train.csv"
#: Percent of a training file's rows held out: of every file in :data:`HELD_OUT_SETS` as a test set,
#: and of every source as the calibration rows that a fine-tuned encoder never sees.
HELD_OUT_PERCENT = 20
CALIBRATION_PERCENT = 15


@dataclass(frozen=True)
class HeldOutSet:
    """A public training file with a fifth held out as a test set (:func:`held_out` of its ``key``).

    Attributes:
        file: The file in the shared datasets folder.
        key: The column the split is drawn on: ``id``, or a group column (SemEval hotels: ``review_id``,
            so no review has sentences on both sides).
        label_column: The column with the sentence's sentiment.
        leave_out: Raw labels that are in no class (``mixed``: positive and negative at once, not
            neutral): neither trained on nor scored.
    """

    file: str
    key: str = "id"
    label_column: str = "label"
    leave_out: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """How the held-out part is named in tables: ``ar_arsarcasm held-out``."""
        return self.file.removesuffix(".csv").removesuffix("_train") + " held-out"

    def held_out(self, df: pd.DataFrame) -> np.ndarray:
        """``(n,)`` True for the rows of the held-out part (a fixed function of each row's ``key``)."""
        keys = df[self.key].astype(str)
        if self.key != "id":  # a group id like 456 is not unique across files: salt it with the file
            keys = self.file + "|" + self.key + "=" + keys
        return keys.map(held_out).to_numpy(dtype=bool)


#: The training files whose held-out fifth is a test set. Star ratings and 0-10 rates come already mapped
#: in each file's ``label`` (Digikala: 1-2 stars negative, 3 neutral, 4-5 positive, else the buyer's
#: recommendation; SnappFood raw: rate 2-4 negative, 6 neutral, 8-10 positive); ArSAS's and SemEval's
#: ``mixed`` is left out of 3-class training and scoring.
HELD_OUT_SETS = (
    HeldOutSet(ARSARCASM),
    HeldOutSet("fa_digikala_comments.csv"),
    HeldOutSet("fa_neshan_places.csv"),
    HeldOutSet("fa_snappfood_raw.csv"),
    HeldOutSet("ar_arsas.csv", leave_out=("mixed",)),
    HeldOutSet("ar_semeval16_hotels_train.csv", key="review_id", label_column="sentence_label",
               leave_out=("mixed",)),
)
_HELD_OUT_BY_FILE = {spec.file: spec for spec in HELD_OUT_SETS}


def held_out_set(name: str) -> HeldOutSet | None:
    """The held-out rule of a shared training file, or None when the whole file is trained on.

    Example:
        >>> held_out_set("ar_semeval16_hotels_train.csv").key, held_out_set("fa_snappfood_train.csv")
        ('review_id', None)
    """
    return _HELD_OUT_BY_FILE.get(name)


#: Public test files, with the evaluation task each supports.
SHARED_TEST_FILES = {
    "fa_snappfood_test.csv": "sentiment",
    "ar_elsahar_att.csv": "sentiment",
    "fa_parsinlu_food_test.csv": "sentiment",
    "fa_parsabsa_test.csv": "aspects",
}
#: ParsiNLU aspect columns -> Sada theme ids.
PARSINLU_ASPECTS = {
    "taste": "quality",
    "quality": "quality",
    "nutrition": "quality",
    "value": "price",
    "delivery": "delivery",
    "packaging": "packaging",
}

_SYNONYMS = {
    "neg": "negative", "negative": "negative", "-1": "negative", "-2": "negative", "0.0": "neutral",
    "neu": "neutral", "neutral": "neutral", "0": "neutral", "3": "neutral", "mixed": "neutral",
    "pos": "positive", "positive": "positive", "1": "positive", "2": "positive",
}


def _bucket(key: str, salt: str) -> int:
    """A stable 0-99 bucket of ``key`` (SHA-1, independent of order, batch and Python's hash seed)."""
    return int(hashlib.sha1(f"{salt}|{key}".encode("utf-8")).hexdigest()[:8], 16) % 100


def held_out(row_id: str) -> bool:
    """Whether a row of a file split by id (ArSarcasm) belongs to its held-out test part (20 %).

    Example:
        >>> sum(held_out(f"arsarcasm-training-{i}") for i in range(1000))
        204
    """
    return _bucket(str(row_id), "sada-test") < HELD_OUT_PERCENT


def calibration_rows(texts: list[str]) -> np.ndarray:
    """Rows kept out of encoder fine-tuning (15 %, by text): they calibrate the heads and thresholds.

    Example:
        >>> calibration_rows(["التوصيل تأخر", "سفارش دیر رسید", "الفاتورة غلط"]).tolist()
        [False, False, True]
    """
    return np.asarray([_bucket(t, "sada-calibration") < CALIBRATION_PERCENT for t in texts], dtype=bool)


def sources_with_neutral(df: pd.DataFrame) -> np.ndarray:
    """Rows whose source labels neutral at all: only they may teach the model what neutral is.

    A two-class set (SnappFood) says positive or negative, not "never neutral": its rows are
    partial labels, used for polarity only.
    """
    has = df.groupby("source")["label"].apply(lambda s: bool((s == "neutral").any()))
    return df["source"].map(has).fillna(False).to_numpy(dtype=bool)


#: The environment variable that names the shared public datasets folder when ``--datasets`` is not given.
DATASETS_ENV = "SADA_SHARED_DATASETS"


def shared_datasets_dir(path: str | Path | None = None) -> Path | None:
    """The shared public datasets folder a command was given: ``path``, else ``$SADA_SHARED_DATASETS``, else None.

    Nothing is looked for beside the checkout: without a folder the public sets are simply not used.

    Raises:
        sada.pipeline.errors.InputError: The folder given does not exist.

    Example:
        >>> import tempfile
        >>> shared_datasets_dir(tempfile.gettempdir()) == Path(tempfile.gettempdir())
        True
    """
    given = path if path is not None else os.environ.get(DATASETS_ENV) or None
    if given is None:
        return None
    folder = Path(given).expanduser()
    if not folder.is_dir():
        origin = "--datasets" if path is not None else f"${DATASETS_ENV}"
        raise InputError(f"expected the shared datasets folder given by {origin} to exist, found nothing at "
                         f"{folder}; pass the folder that holds the public CSV files (e.g. ../shared/datasets)")
    return folder


def map_label(value: object) -> str | None:
    """Normalise a sentiment label: names, short names, or the ParsiNLU -2..3 scale.

    ParsiNLU's 3 (mixed/borderline) is mapped to neutral.

    Example:
        >>> [map_label(v) for v in ("Positive", -2, 3, "neu", "??")]
        ['positive', 'negative', 'neutral', 'neutral', None]
    """
    key = str(value).strip().lower()
    if key.endswith(".0"):
        key = key[:-2]
    return _SYNONYMS.get(key)


def read_labelled(path: str | Path, label_column: str = "label") -> pd.DataFrame:
    """Read a CSV or JSONL file with ``text`` and ``label`` columns (``id``, ``language`` optional).

    Args:
        path: The file.
        label_column: The column that holds the label when it is not ``label`` (SemEval: ``sentence_label``).

    Returns:
        Rows with a known label; ``language`` filled from the column, the file
        name (``ar_...``/``fa_...``) or the letters.

    Raises:
        sada.pipeline.errors.InputError: A required column is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "No such file", str(path))
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        df = pd.read_json(path, lines=True, dtype=False)
    else:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "text" not in df.columns:
        raise InputError(f"expected a `text` column in {path}, found {', '.join(map(str, df.columns))}")
    if label_column != "label" and label_column in df.columns:
        df["label"] = df[label_column]
    if "label" not in df.columns and "sentiment" in df.columns:
        df["label"] = df["sentiment"]
    if "label" not in df.columns:
        raise InputError(f"expected a `label` column in {path}, found {', '.join(map(str, df.columns))}")
    if "id" not in df.columns:
        df["id"] = [f"{path.stem}-{i}" for i in range(len(df))]
    df["text"] = df["text"].astype(str)
    df["label_raw"] = df["label"]
    df["label"] = df["label"].map(map_label)
    dropped = int(df["label"].isna().sum())
    if dropped:
        logger.warning("%s: %d rows with unknown labels skipped", path.name, dropped)
    df = df[df["label"].notna()].reset_index(drop=True)
    if "language" not in df.columns:
        prefix = path.name[:3]
        if prefix in ("ar_", "fa_"):
            df["language"] = prefix[:2]
        else:  # the pipeline's own language ID, so training and analysis route texts alike
            df["language"] = [g.language for g in default_identifier().predict(df["text"].tolist())]
    df["source"] = path.name
    return df


def _parsinlu_themes(df: pd.DataFrame) -> pd.DataFrame:
    themes, mask = [], sorted(set(PARSINLU_ASPECTS.values()))
    for _, row in df.iterrows():
        found = {PARSINLU_ASPECTS[a] for a in PARSINLU_ASPECTS if a in row and str(row[a]).strip() not in ("-3", "")}
        themes.append(sorted(found))
    df = df.copy()
    df["themes"] = themes
    df["theme_mask"] = [mask] * len(df)
    return df


def corpus_training_frame(corpus_dir: Path, split: str = "train") -> pd.DataFrame:
    """The labelled items of one split of the corpus in ``corpus_dir`` (empty if it is not built).

    Falls back to reading ``<corpus_dir>/texts/*.jsonl`` directly (every item, with a
    deterministic 80 % hash split) when ``feedback.csv`` has not been built yet.

    Raises:
        sada.pipeline.errors.CorpusError: No folder was given (None).
    """
    corpus_dir = corpus_folder(corpus_dir)
    try:  # a corpus whose feedback.csv is not built falls back to its texts below
        df = load_feedback(corpus_dir, split)
        all_ids = theme_ids()
        df = df.rename(columns={"sentiment": "label"}) if "label" not in df.columns else df
    except (CorpusError, FileNotFoundError) as exc:
        texts_dir = corpus_dir / "texts"
        rows = []
        for f in sorted(texts_dir.glob("*.jsonl")):
            for line in f.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    rows.append(json.loads(line))
        if not rows:
            logger.warning("no corpus available (%s)", exc)
            return pd.DataFrame(columns=["text", "label", "language", "source", "themes", "theme_mask"])
        df = pd.DataFrame(rows).rename(columns={"sentiment": "label"})
        bucket = df["text"].map(lambda t: int(hashlib.sha1(t.encode()).hexdigest()[:8], 16) % 10)
        df = df[(bucket < 8) if split == "train" else (bucket >= 8)].reset_index(drop=True)
        all_ids = sorted({t for ts in df["themes"] for t in ts})
    df = df[["text", "label", "language", "themes"]].copy()
    df["label"] = df["label"].map(map_label)
    df["source"] = "corpus"
    df["theme_mask"] = [list(all_ids)] * len(df)
    return df.reset_index(drop=True)


#: Source name of the corpus's sentence-level statements (``corpus/statements/*.jsonl``).
STATEMENTS_SOURCE = "corpus statements"


def statements_frame(corpus_dir: Path) -> pd.DataFrame:
    """The corpus's hand-written sentence-level statements: neutral facts, questions and narration,
    each next to a positive and a negative opinion on the same topic (``<corpus_dir>/statements``).

    They are training data only (not feedback items of the simulated customers): they teach the
    subjectivity view that a sentence describing a product without judging it is neutral.

    Returns:
        ``text``, ``label``, ``language``, ``source`` and ``group`` (the topic), or an empty frame.

    Raises:
        sada.pipeline.errors.CorpusError: No folder was given (None).
    """
    rows = []
    for path in sorted((corpus_folder(corpus_dir) / "statements").glob("*_statements.jsonl")):
        rows.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if not rows:
        return pd.DataFrame(columns=["text", "label", "language", "source", "group"])
    df = pd.DataFrame(rows)
    df = df.assign(label=df["sentiment"].map(map_label), source=STATEMENTS_SOURCE)
    return df[["text", "label", "language", "source", "group"]]


def parse_theme_labels(value: object) -> dict[str, str]:
    """Theme labels as ``theme -> sentiment`` from ``a:negative;b:positive``, ``a;b`` or a list.

    A theme without a sentiment maps to ``""``.

    Example:
        >>> parse_theme_labels("delivery:negative;quality:positive")
        {'delivery': 'negative', 'quality': 'positive'}
        >>> parse_theme_labels("price;app"), parse_theme_labels(None)
        ({'price': '', 'app': ''}, {})
    """
    parts = [str(v) for v in value] if isinstance(value, (list, tuple)) else parse_theme_cell(value)
    out: dict[str, str] = {}
    for part in parts:
        theme, _, sentiment = part.strip().partition(":")
        if theme.strip():
            out[theme.strip()] = sentiment.strip()
    return out


def read_theme_labels(path: str | Path, known: list[str] | None = None) -> pd.DataFrame:
    """A ``<dataset>_themes.csv`` file joined with its dataset's texts (``<dataset>.csv`` beside it).

    Args:
        path: The theme file (columns ``id``, ``sentiment``, ``themes``; see ../shared/datasets/README.md).
        known: The taxonomy's theme ids; labels outside it are dropped (None keeps all).

    Returns:
        The dataset rows that have theme labels, as :func:`read_labelled` returns them, with
        ``themes`` (list) and ``theme_mask`` (every known theme: the annotator judged all of them).

    Raises:
        FileNotFoundError: The dataset file beside it is missing.
    """
    path = Path(path)
    dataset = path.with_name(path.name[: -len("_themes.csv")] + ".csv")
    labels = pd.read_csv(path, dtype=str, keep_default_na=False)
    rows = read_labelled(dataset)
    themes = {i: parse_theme_labels(t) for i, t in zip(labels["id"], labels["themes"])}
    rows = rows[rows["id"].isin(themes)].reset_index(drop=True)
    ids = sorted({t for d in themes.values() for t in d}) if known is None else list(known)
    rows["themes"] = [[t for t in themes[i] if t in ids] for i in rows["id"]]
    rows["theme_mask"] = [list(ids)] * len(rows)
    return rows


def _taxonomy_ids() -> list[str] | None:
    try:
        return list(theme_ids())
    except Exception as exc:  # noqa: BLE001 - no taxonomy: keep the files' own theme ids
        logger.warning("no theme taxonomy (%s)", exc)
        return None


def shared_source_frame(root: Path, name: str, part: str = "train") -> pd.DataFrame:
    """The rows of one shared training file: its ``train`` part (what training reads) or its ``held-out`` part.

    A file without a :class:`HeldOutSet` is trained on whole (and has no held-out part); a file with one loses
    its held-out fifth and its left-out labels (``mixed``) from training.

    Raises:
        ValueError: ``part`` is neither ``train`` nor ``held-out``.
    """
    if part not in ("train", "held-out"):
        raise ValueError(f"expected part train or held-out, found {part!r}")
    spec = held_out_set(name)
    if spec is None and part == "held-out":
        return pd.DataFrame(columns=["id", "text", "label", "language", "source"])
    if spec is None:
        return read_labelled(root / name)
    df = read_labelled(root / name, label_column=spec.label_column)
    df = df[~df["label_raw"].astype(str).str.strip().str.lower().isin(spec.leave_out)].reset_index(drop=True)
    test = spec.held_out(df)
    return df[test if part == "held-out" else ~test].reset_index(drop=True)


def _with_theme_file(df: pd.DataFrame, theme_file: Path, known: list[str] | None) -> pd.DataFrame:
    """``df`` with ``themes`` and ``theme_mask`` from its ``<name>_themes.csv`` (None for unlabelled rows)."""
    labelled = read_theme_labels(theme_file, known).set_index("id")
    df["themes"] = [labelled.at[i, "themes"] if i in labelled.index else None for i in df["id"]]
    df["theme_mask"] = [labelled.at[i, "theme_mask"] if i in labelled.index else None for i in df["id"]]
    logger.info("%s: theme labels for %d rows", theme_file.name, len(labelled))
    return df


def shared_training_frame(root: Path | None, files: tuple[str, ...] = SHARED_TRAIN_FILES) -> pd.DataFrame:
    """The public training ``files`` of the shared datasets folder ``root`` (empty without one), each without
    its held-out part (:func:`shared_source_frame`).

    Rows of a training file that also has a ``<name>_themes.csv`` carry its theme labels.
    """
    if root is None:
        return pd.DataFrame(columns=["text", "label", "language", "source"])
    frames = []
    known = None
    for name in files:
        if (root / name).is_file():
            df = shared_source_frame(root, name, "train")
            if name.startswith("fa_parsinlu"):
                df = _parsinlu_themes(df)
            theme_file = root / name.replace(".csv", "_themes.csv")
            if theme_file.is_file():
                known = known if known is not None else _taxonomy_ids()
                df = _with_theme_file(df, theme_file, known)
            frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


#: Every shared file a training run may read: the default files and the files with a held-out part.
ALL_TRAIN_FILES = tuple(dict.fromkeys(SHARED_TRAIN_FILES + tuple(spec.file for spec in HELD_OUT_SETS)))
#: The real review and tweet sets that the default files leave out (Digikala, Neshan, SnappFood raw, ArSAS,
#: SemEval hotels): ``sada train --shared-file all`` adds them.
NEW_TRAIN_FILES = tuple(name for name in ALL_TRAIN_FILES if name not in SHARED_TRAIN_FILES)


def check_shared_files(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` when each is a shared training file Sada knows (:data:`ALL_TRAIN_FILES`); ``all`` stands for
    every one of them. A test file, or a file whose held-out part Sada does not know, is never trained on.

    Raises:
        sada.pipeline.errors.InputError: An unknown name, a test file, or no name at all.

    Example:
        >>> check_shared_files(("fa_snappfood_train.csv", "fa_neshan_places.csv"))
        ('fa_snappfood_train.csv', 'fa_neshan_places.csv')
        >>> len(check_shared_files(("all",))) == len(ALL_TRAIN_FILES)
        True
    """
    if not names:
        raise InputError("expected at least one shared training file, found none; pass --shared-file NAME "
                         f"(one of {', '.join(ALL_TRAIN_FILES)}) or --shared-file all")
    out: list[str] = []
    for name in names:
        if name == "all":
            out.extend(ALL_TRAIN_FILES)
            continue
        if name not in ALL_TRAIN_FILES:
            kind = "a test file, never trained on" if name in SHARED_TEST_FILES else "not a shared training file"
            raise InputError(f"expected a shared training file (one of {', '.join(ALL_TRAIN_FILES)} or all), "
                             f"found {name!r} ({kind}); pass one of those names")
        out.append(name)
    return tuple(dict.fromkeys(out))


def held_out_frames(root: Path | None) -> list[tuple[HeldOutSet, pd.DataFrame]]:
    """The held-out fifth of every file of :data:`HELD_OUT_SETS` in ``root`` (never trained on), without the
    rows whose text a training part of any shared file also has (short stock phrases such as "great" recur
    across files and ids): what is scored was seen by no training run, whichever files it read.

    Returns:
        ``(spec, rows)`` for each file in ``root`` (none without a folder).
    """
    if root is None:
        return []
    specs = [spec for spec in HELD_OUT_SETS if (root / spec.file).is_file()]
    if not specs:
        return []
    trained = set(shared_training_frame(root, ALL_TRAIN_FILES)["text"])
    frames = []
    for spec in specs:
        df = shared_source_frame(root, spec.file, "held-out")
        seen = df["text"].isin(trained)
        if seen.any():
            logger.info("%s: %d rows whose text a training part also has are not scored", spec.name, int(seen.sum()))
        frames.append((spec, df[~seen].reset_index(drop=True)))
    return frames


def class_quota(counts: dict[str, int], cap: int) -> dict[str, int]:
    """How many rows of each class a source keeps under ``cap`` rows: the classes are filled smallest first,
    each up to an equal share of what is left, so a scarce class keeps every row and the dominant one is cut.

    Example:
        >>> class_quota({"negative": 1300, "neutral": 2320, "positive": 9000}, 6000)
        {'negative': 1300, 'neutral': 2320, 'positive': 2380}
        >>> class_quota({"negative": 50, "positive": 70}, 6000)  # under the cap: everything
        {'negative': 50, 'positive': 70}
    """
    quota: dict[str, int] = {}
    left, open_classes = cap, sorted(counts, key=lambda c: (counts[c], c))
    while open_classes:
        share = left // len(open_classes)
        label = open_classes.pop(0)
        quota[label] = min(counts[label], share) if open_classes else min(counts[label], left)
        left -= quota[label]
    return {label: quota[label] for label in counts}


def cap_per_source(df: pd.DataFrame, cap: int | None, seed: int = 0,
                   source_caps: Mapping[str, int] | None = None) -> pd.DataFrame:
    """At most ``cap`` rows of each source (:func:`class_quota` per class, sampled with ``seed``), so that no
    single domain decides a class (neutral above all); a source named in ``source_caps`` takes its own cap
    instead (so the new sources can be capped while the old ones stay whole). None and no ``source_caps``
    keep every row.

    Example:
        >>> df = pd.DataFrame({"source": ["a"] * 6 + ["b"], "label": ["positive"] * 5 + ["neutral", "negative"]})
        >>> cap_per_source(df, 4).groupby(["source", "label"]).size().to_dict()
        {('a', 'neutral'): 1, ('a', 'positive'): 3, ('b', 'negative'): 1}
        >>> cap_per_source(df, None, source_caps={"a": 3}).groupby("source").size().to_dict()
        {'a': 3, 'b': 1}
    """
    caps = dict(source_caps or {})
    if cap is None and not caps:
        return df
    keep = []
    for source, rows in df.groupby("source", sort=True):
        limit = caps.get(str(source), cap)
        if limit is None:
            keep.append(rows)
            continue
        quota = class_quota(rows["label"].value_counts().to_dict(), limit)
        for label, cell in rows.groupby("label", sort=True):
            keep.append(cell.sample(n=quota[label], random_state=seed) if quota[label] < len(cell) else cell)
    return df.loc[sorted(pd.concat(keep).index)].reset_index(drop=True)


def training_frame(data_files: list[Path] | None = None, corpus: Path | None = None,
                   datasets: Path | None = None, shared_files: tuple[str, ...] = SHARED_TRAIN_FILES,
                   per_source_cap: int | None = None, seed: int = 0,
                   source_caps: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Every labelled training row, deduplicated: the train split and statements of the corpus in
    ``corpus`` (a folder, or None for none), the ``shared_files`` of ``datasets`` (a folder, or None for none;
    each without its held-out part), user files; at most ``per_source_cap`` rows a source, or a named source's
    own cap in ``source_caps`` (:func:`cap_per_source`).

    Fine-tuning and head training read the same frame, so the calibration rows are the same in both.

    Raises:
        sada.pipeline.errors.InputError: No labelled data was found.
    """
    frames = ([corpus_training_frame(corpus, "train"), statements_frame(corpus)] if corpus is not None else []) + (
        [shared_training_frame(datasets, shared_files)] if datasets is not None else []) + [
        read_labelled(f) for f in data_files or []]
    frames = [f for f in frames if len(f)]
    if not frames:
        raise InputError("expected labelled data, found none: pass --data FILE, the shared datasets folder "
                         "(--datasets DIR) or --corpus (the sample corpus, built)")
    df = pd.concat(frames, ignore_index=True)
    df = df[df["text"].str.strip().astype(bool)].drop_duplicates(subset=["text", "label"]).reset_index(drop=True)
    return cap_per_source(df, per_source_cap, seed, source_caps)


def theme_matrix(df: pd.DataFrame, theme_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(n, k)`` 0/1 theme labels and the mask of the labels that are known (a row's ``theme_mask``).

    A row with a ``themes`` list but no mask (a user file) has every theme judged.
    """
    y = np.zeros((len(df), len(theme_ids)), dtype=np.int64)
    m = np.zeros((len(df), len(theme_ids)), dtype=bool)
    col = {t: j for j, t in enumerate(theme_ids)}
    has = "themes" in df.columns
    for i, (themes, mask) in enumerate(zip(df["themes"] if has else [None] * len(df),
                                           df["theme_mask"] if "theme_mask" in df.columns else [None] * len(df))):
        if not isinstance(mask, list):
            if not isinstance(themes, list):
                continue
            mask = theme_ids  # a user file with a themes column labels every theme
        for t in mask:
            if t in col:
                m[i, col[t]] = True
        for t in themes or []:
            if t in col:
                y[i, col[t]] = 1
    return y, m
