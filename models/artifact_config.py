"""The classifier artifact's ``config.json``, typed and validated: :class:`ArtifactConfig`.

One object for what an artifact declares (labels, encoder identity, which text each view reads, the
per-theme thresholds, the model version) and for what training recorded (data, calibration, options).
:meth:`ArtifactConfig.from_json` checks every known key's type and says what it expected, what it found
and how to fix it; :meth:`ArtifactConfig.to_json` writes it back.

Round trips keep the file: keys are written in the order they were read (fields set in code follow in
the order ``sada train`` writes them), a key read as ``null`` stays ``null``, an absent one stays absent,
numbers keep their spelling, and keys this version does not know live in ``extra`` and are written again,
so an older or newer artifact still loads and saves unchanged.

``encoder`` is an :class:`EncoderSpec` and ``training_options`` a :class:`TrainingChoices` (what ``sada
reproduce`` reads back). The training results the model card prints are typed records too:
``finetune`` a :class:`FinetuneFacts`, ``theme_calibration`` a :class:`ThemeCalibration`,
``theme_cross_validated`` a table of :class:`ThemeScore` per source and theme, ``negative_rule`` a
:class:`NegativeRule` and ``taxonomy`` a :class:`TaxonomyFacts`; ``training_classes`` stays a JSON object.
A JSON object set in code (``replace(config, taxonomy={...})``) becomes its record, checked the same way.

Example:
    >>> cfg = ArtifactConfig.from_json({"model_version": "m-1", "tfidf_input": "normalised", "theme_ids": ["a"],
    ...                                 "future_key": 1})
    >>> cfg.model_version, cfg.theme_ids, cfg.normalises_tfidf, cfg.extra
    ('m-1', ('a',), True, {'future_key': 1})
    >>> ArtifactConfig.from_json({"seed": "0"})
    Traceback (most recent call last):
    ...
    sada.models.artifact_config.ArtifactConfigError: expected a whole number for `seed` in the artifact's config.json, found '0' (str); write a whole number there, or train the artifact again with `sada train`
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping

from sada.pipeline.errors import ConfigError

__all__ = ["ArtifactConfig", "ArtifactConfigError", "EncoderSpec", "TrainingChoices", "FinetuneFacts",
           "ThemeThreshold", "ThemeCalibration", "ThemeScore", "WeightScore", "NegativeRule", "TaxonomyFacts",
           "TEXT_INPUTS", "DEFAULT_SEGMENT_BELOW_CONFIDENCE"]

#: The text a view may read: as written, or as :class:`sada.pipeline.normalise.Normaliser` writes it.
TEXT_INPUTS = ("raw", "normalised")
#: Items whose top sentiment probability is below this get a sentiment per theme clause.
DEFAULT_SEGMENT_BELOW_CONFIDENCE = 0.85


class ArtifactConfigError(ConfigError):
    """An artifact's config.json has a key of the wrong type, or is not a JSON object."""


# --- type checks: (test, what was expected, the field's value from the JSON value) -------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_str_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v)


def _is_str_map(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, dict) and all(isinstance(k, str) and test(x) for k, x in v.items())


_Check = tuple[Callable[[Any], bool], str, Callable[[Any], Any]]
_STR: _Check = (lambda v: isinstance(v, str), "a string", str)
_INT: _Check = (_is_int, "a whole number", int)
_NUMBER: _Check = (_is_number, "a number", lambda v: v)
_BOOL: _Check = (lambda v: isinstance(v, bool), "true or false", bool)
_OBJECT: _Check = (lambda v: isinstance(v, dict), "a JSON object", dict)
_STR_LIST: _Check = (_is_str_list, "a list of strings", tuple)
_TEXT_INPUT: _Check = (lambda v: v in TEXT_INPUTS, "raw or normalised", str)
_THRESHOLDS: _Check = (_is_str_map(_is_number), "an object of theme id: number", dict)
_COUNTS: _Check = (_is_str_map(_is_int), "an object of source: whole number", dict)
_WEIGHTS: _Check = (_is_str_map(_is_number), "an object of source: number", dict)


def _check(key: str, value: Any, check: _Check) -> Any:
    """``value`` as the field holds it; None (JSON null) stays None.

    Raises:
        ArtifactConfigError: ``value`` is not of the expected type.
    """
    test, expected, convert = check
    if value is None:
        return None
    if not test(value):
        raise ArtifactConfigError(
            f"expected {expected} for `{key}` in the artifact's config.json, found {value!r} "
            f"({type(value).__name__}); write {expected} there, or train the artifact again with `sada train`")
    return convert(value)


def _plain(value: Any) -> Any:
    """A field's value as JSON holds it (tuples as lists, nested records as objects, tables of records too)."""
    if isinstance(value, _Record):
        return value.as_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return list(value) if isinstance(value, tuple) else value


def _record(record: Callable[[Any], Any]) -> _Check:
    """The check of a nested record (its own keys checked by ``record``, a ``from_json``)."""
    return (lambda v: isinstance(v, dict), "a JSON object", record)


def _table(record: Callable[[Any], Any], expected: str) -> _Check:
    """The check of an object of name: record (each value checked by ``record``, a ``from_json``)."""
    return (lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v), expected,
            lambda v: {k: record(x) for k, x in v.items()})


@dataclass(frozen=True)
class _Record:
    """A JSON object with typed fields, its unknown keys (``extra``) and its key order (``key_order``)."""

    #: field name -> type check; the order is the order a record built in code is written in.
    _CHECKS: ClassVar[dict[str, _Check]] = {}
    #: fields a record built in code writes even when None.
    _ALWAYS: ClassVar[frozenset[str]] = frozenset()
    #: the record's key in config.json (``config``: the whole file), named in errors.
    _WHERE: ClassVar[str] = "config"

    #: keys this version does not know, written back unchanged.
    extra: dict[str, Any] = field(default_factory=dict, repr=False, kw_only=True)
    #: the keys in the order they were read (not compared).
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False, kw_only=True)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Any:
        """The record of a parsed JSON object.

        Raises:
            ArtifactConfigError: a key of the wrong type, or not an object.
        """
        return cls(**cls._parse(data, cls._WHERE))

    @classmethod
    def _parse(cls, data: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Keyword arguments of ``cls`` from a JSON object (``where`` names it in errors)."""
        if not isinstance(data, Mapping):
            raise ArtifactConfigError(f"expected a JSON object for {where} in the artifact's config.json, found "
                                      f"{type(data).__name__}; write an object or train the artifact again")
        known = {k: _check(f"{where}.{k}" if where != "config" else k, v, cls._CHECKS[k])
                 for k, v in data.items() if k in cls._CHECKS}
        extra = {k: v for k, v in data.items() if k not in cls._CHECKS}
        return {**known, "extra": extra, "key_order": tuple(data)}

    def _items(self) -> Iterator[tuple[str, Any]]:
        """``(key, value)`` pairs as they are written."""
        values = {name: getattr(self, name) for name in self._CHECKS}
        values.update(self.extra)
        order = self.key_order
        written = [k for k in order if k in values]
        always = self._ALWAYS if not order else frozenset()
        written += [k for k in values if k not in order and (values[k] is not None or k in always)]
        return ((k, values[k]) for k in written)

    def as_dict(self) -> dict[str, Any]:
        """The JSON object, in the order it is written."""
        return {k: _plain(v) for k, v in self._items()}


@dataclass(frozen=True)
class EncoderSpec(_Record):
    """The encoder an artifact was trained on (``encoder`` in config.json).

    Attributes:
        name: The encoder's name (e.g. ``multilingual-e5-small``).
        path: A local Hugging Face checkpoint, or None for the default encoder.
        sha256: The encoder weights' hash: a different encoder loaded is warned about.
        prefix: Input prefix (e5: ``query: ``).
        max_length: Tokens per text, or None for :data:`sada.models.encoder.DEFAULT_MAX_LENGTH`.
    """

    _CHECKS: ClassVar[dict[str, _Check]] = {"name": _STR, "path": _STR, "sha256": _STR, "prefix": _STR,
                                            "max_length": _INT}
    _ALWAYS: ClassVar[frozenset[str]] = frozenset(_CHECKS)
    _WHERE: ClassVar[str] = "encoder"

    name: str | None = None
    path: str | None = None
    sha256: str | None = None
    prefix: str | None = None
    max_length: int | None = None


_ENCODER = _record(EncoderSpec.from_json)


@dataclass(frozen=True)
class TrainingChoices(_Record):
    """The data choices of a ``sada train`` run (``training_options`` in config.json): ``sada reproduce``
    trains on the same rows again.

    Attributes:
        corpus: The run trained on a corpus folder.
        shared_files: The files of the shared datasets folder it trained on (empty: none).
        per_source_cap: At most this many rows a source, or None for every row.
        source_caps: A cap of its own per named source.
        negative_weight: The weight on P(negative) asked for; None: chosen on validation rows.
        finetune_from: The overlay the encoder's fine-tuning continued from (``sada train --finetune-from``);
            absent when it started from the base encoder.
        source_weights: The weight of each named source's rows in the sentiment views' regressions (``sada
            train --source-weight``; scaled to mean 1 over the rows); absent when every row weighs 1.
        theme_vocabulary: ``own`` when the theme heads read a TF-IDF vocabulary of their own (``sada train
            --own-theme-vocabulary``); absent when they share the sentiment one.
    """

    _CHECKS: ClassVar[dict[str, _Check]] = {"corpus": _BOOL, "shared_files": _STR_LIST, "per_source_cap": _INT,
                                            "source_caps": _COUNTS, "negative_weight": _NUMBER, "finetune_from": _STR,
                                            "source_weights": _WEIGHTS, "theme_vocabulary": _STR}
    _ALWAYS: ClassVar[frozenset[str]] = frozenset(_CHECKS) - {"finetune_from", "source_weights", "theme_vocabulary"}
    _WHERE: ClassVar[str] = "training_options"

    corpus: bool | None = None
    shared_files: tuple[str, ...] | None = None
    per_source_cap: int | None = None
    source_caps: dict[str, int] | None = None
    negative_weight: float | None = None
    finetune_from: str | None = None
    source_weights: dict[str, float] | None = None
    theme_vocabulary: str | None = None

    @property
    def weight_on_negative(self) -> float | None:
        """``negative_weight`` as recorded; 1.0 (the most probable class) where a file from before the choice
        was recorded has no such key (null: chosen on validation rows)."""
        if self.key_order and "negative_weight" not in self.key_order:
            return 1.0
        return self.negative_weight


_TRAINING = _record(TrainingChoices.from_json)


@dataclass(frozen=True)
class FinetuneFacts(_Record):
    """How the encoder's top layers were fine-tuned (``finetune``: the overlay's metadata, copied).

    Attributes:
        top_layers, epochs, steps, lr, batch_size, max_length, seed: The run's settings and steps taken.
        rows, three_class_rows, theme_labelled_rows: The rows trained on, with a neutral class, with themes.
        seconds: Training time; device: Where it ran (absent: 2 CPU cores).
        continued_from: The facts of the overlay this run started from (``sada train --finetune-from``).
        file: Under ``continued_from`` only: that overlay's file name.
    """

    _CHECKS: ClassVar[dict[str, _Check]] = {
        "top_layers": _INT, "epochs": _INT, "steps": _INT, "lr": _NUMBER, "batch_size": _INT, "max_length": _INT,
        "rows": _INT, "three_class_rows": _INT, "theme_labelled_rows": _INT, "seed": _INT, "seconds": _NUMBER,
        "device": _STR, "continued_from": _record(lambda v: FinetuneFacts.from_json(v)), "file": _STR}
    _WHERE: ClassVar[str] = "finetune"

    top_layers: int | None = None
    epochs: int | None = None
    steps: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    max_length: int | None = None
    rows: int | None = None
    three_class_rows: int | None = None
    theme_labelled_rows: int | None = None
    seed: int | None = None
    seconds: float | None = None
    device: str | None = None
    continued_from: FinetuneFacts | None = None
    file: str | None = None


@dataclass(frozen=True)
class ThemeThreshold(_Record):
    """How one theme's threshold was chosen (``theme_calibration.themes``): ``source`` is ``own`` (its own
    held-out predictions) or ``pooled`` (too few positives: the pooled threshold)."""

    _CHECKS: ClassVar[dict[str, _Check]] = {"threshold": _NUMBER, "held_out_positives": _INT,
                                            "held_out_known": _INT, "source": _STR}
    _WHERE: ClassVar[str] = "theme_calibration.themes"

    threshold: float | None = None
    held_out_positives: int | None = None
    held_out_known: int | None = None
    source: str | None = None


@dataclass(frozen=True)
class ThemeCalibration(_Record):
    """How the theme thresholds and the lexical weight were chosen (``theme_calibration``).

    Attributes:
        pooled_threshold, pooled_f1: The threshold best for all themes pooled, and its F1.
        themes: Per theme id, its :class:`ThemeThreshold`.
        lexical_weight: The weight of the TF-IDF theme score; lexical_weight_scores: micro-F1 per weight tried.
    """

    _CHECKS: ClassVar[dict[str, _Check]] = {
        "pooled_threshold": _NUMBER, "pooled_f1": _NUMBER,
        "themes": _table(ThemeThreshold.from_json, "an object of theme id: threshold choice"),
        "lexical_weight": _NUMBER, "lexical_weight_scores": _THRESHOLDS}
    _WHERE: ClassVar[str] = "theme_calibration"

    pooled_threshold: float | None = None
    pooled_f1: float | None = None
    themes: dict[str, ThemeThreshold] | None = None
    lexical_weight: float | None = None
    lexical_weight_scores: dict[str, float] | None = None


@dataclass(frozen=True)
class ThemeScore(_Record):
    """Precision, recall, F1 and support of one theme (a cell of ``theme_cross_validated``)."""

    _CHECKS: ClassVar[dict[str, _Check]] = {"precision": _NUMBER, "recall": _NUMBER, "f1": _NUMBER,
                                            "support": _INT}
    _WHERE: ClassVar[str] = "theme_cross_validated"

    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    support: int | None = None


#: ``theme_cross_validated``: per source, per theme id (and ``micro``), a :class:`ThemeScore`.
_SCORES_BY_THEME = _table(ThemeScore.from_json, "an object of theme id: scores")
_CROSS_VALIDATED = _table(lambda v: _check("theme_cross_validated.<source>", v, _SCORES_BY_THEME),
                          "an object of source: {theme id: scores}")


@dataclass(frozen=True)
class WeightScore(_Record):
    """What one weight on P(negative) scored (a row of ``negative_rule.scores``; null: no negatives)."""

    _CHECKS: ClassVar[dict[str, _Check]] = {"mean_macro_f1": _NUMBER, "negative_precision": _NUMBER,
                                            "negative_recall": _NUMBER, "negative_f1": _NUMBER}
    _WHERE: ClassVar[str] = "negative_rule.scores"

    mean_macro_f1: float | None = None
    negative_precision: float | None = None
    negative_recall: float | None = None
    negative_f1: float | None = None


@dataclass(frozen=True)
class NegativeRule(_Record):
    """The decision rule's weight on P(negative) (``negative_rule``): ``chosen`` is ``given``
    (``--negative-weight``) or ``validation``; ``scores`` what each weight tried scored, by weight."""

    _CHECKS: ClassVar[dict[str, _Check]] = {"weight": _NUMBER, "chosen": _STR,
                                            "scores": _table(WeightScore.from_json, "an object of weight: scores")}
    _WHERE: ClassVar[str] = "negative_rule"

    weight: float | None = None
    chosen: str | None = None
    scores: dict[str, WeightScore] | None = None


@dataclass(frozen=True)
class TaxonomyFacts(_Record):
    """The taxonomy an adapted or fitted artifact detects (``taxonomy``).

    Attributes:
        source, version: The taxonomy file's name and content version.
        zero_shot: Themes detected with no training; few_shot: themes fitted on examples (``sada themes fit``).
        thresholds_rechosen: Trained themes whose threshold the fit chose again; labelled_texts: texts fitted on.
        lexical_fitted: Themes whose lexical evidence comes from the labelled texts' words.
    """

    _CHECKS: ClassVar[dict[str, _Check]] = {
        "source": _STR, "version": _STR, "zero_shot": _STR_LIST, "few_shot": _STR_LIST,
        "thresholds_rechosen": _STR_LIST, "labelled_texts": _INT, "lexical_fitted": _STR_LIST}
    _WHERE: ClassVar[str] = "taxonomy"

    source: str | None = None
    version: str | None = None
    zero_shot: tuple[str, ...] | None = None
    few_shot: tuple[str, ...] | None = None
    thresholds_rechosen: tuple[str, ...] | None = None
    labelled_texts: int | None = None
    lexical_fitted: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ArtifactConfig(_Record):
    """A classifier artifact's ``config.json`` (see the module docstring).

    Every field is None when the file does not have the key. Attributes, in the order ``sada train``
    writes them:
        model_name: The model family (``sada-e5s-tfidf``).
        labels: Sentiment labels in column order.
        tfidf_input / encoder_input: ``raw`` or ``normalised``: the text each view reads (absent: raw).
        quantize: The encoder runs int8 at prediction time.
        seed: Training seed.
        encoder: :class:`EncoderSpec`.
        encoder_overlay: File name of the fine-tuned top layers beside the heads.
        finetune: :class:`FinetuneFacts` of the fine-tuning run.
        training_options: :class:`TrainingChoices`, the data choices of the run.
        theme_thresholds: Detection threshold per theme id.
        theme_calibration: :class:`ThemeCalibration`, how the thresholds were chosen.
        theme_cross_validated: Per source, per theme id (and ``micro``), its out-of-fold :class:`ThemeScore`.
        negative_rule: :class:`NegativeRule`, the weight on P(negative) and what each weight scored.
        model_version, trained: Version string and training date.
        training_data: Rows per source; training_classes: rows per source and class.
        theme_ids: Theme ids in the theme head's column order.
        taxonomy: :class:`TaxonomyFacts`, the taxonomy an adapted or fitted artifact detects.
        segment_below_confidence: See :data:`DEFAULT_SEGMENT_BELOW_CONFIDENCE`.
        extra: Keys this version does not know, written back unchanged.
        key_order: The keys in the order they were read (not compared).
    """

    _CHECKS: ClassVar[dict[str, _Check]] = {
        "model_name": _STR, "labels": _STR_LIST, "tfidf_input": _TEXT_INPUT, "encoder_input": _TEXT_INPUT,
        "quantize": _BOOL, "seed": _INT, "encoder": _ENCODER, "encoder_overlay": _STR,
        "finetune": _record(FinetuneFacts.from_json), "training_options": _TRAINING,
        "theme_thresholds": _THRESHOLDS, "theme_calibration": _record(ThemeCalibration.from_json),
        "theme_cross_validated": _CROSS_VALIDATED, "negative_rule": _record(NegativeRule.from_json),
        "model_version": _STR, "trained": _STR, "training_data": _COUNTS, "training_classes": _OBJECT,
        "theme_ids": _STR_LIST, "taxonomy": _record(TaxonomyFacts.from_json), "segment_below_confidence": _NUMBER,
    }

    model_name: str | None = None
    labels: tuple[str, ...] | None = None
    tfidf_input: str | None = None
    encoder_input: str | None = None
    quantize: bool | None = None
    seed: int | None = None
    encoder: EncoderSpec | None = None
    encoder_overlay: str | None = None
    finetune: FinetuneFacts | None = None
    training_options: TrainingChoices | None = None
    theme_thresholds: dict[str, float] | None = None
    theme_calibration: ThemeCalibration | None = None
    theme_cross_validated: dict[str, dict[str, ThemeScore]] | None = None
    negative_rule: NegativeRule | None = None
    model_version: str | None = None
    trained: str | None = None
    training_data: dict[str, int] | None = None
    training_classes: dict[str, Any] | None = None
    theme_ids: tuple[str, ...] | None = None
    taxonomy: TaxonomyFacts | None = None
    segment_below_confidence: float | None = None

    def __post_init__(self) -> None:
        for f in fields(self):  # values set in code are checked as the file's are
            check = self._CHECKS.get(f.name)
            value = getattr(self, f.name)
            if check is not None and value is not None and not isinstance(value, _Record):
                object.__setattr__(self, f.name, _check(f.name, _plain(value), check))

    @classmethod
    def from_json(cls, source: str | Path | Mapping[str, Any]) -> "ArtifactConfig":
        """The configuration in a ``config.json`` file (a path) or an already parsed object.

        Raises:
            ArtifactConfigError: the file is not JSON, not an object, or a key has the wrong type.
            OSError: the file cannot be read.
        """
        if isinstance(source, (str, Path)):
            try:
                source = json.loads(Path(source).read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ArtifactConfigError(f"expected JSON in {source}, found {exc}; write valid JSON or train the "
                                          "artifact again with `sada train`") from None
        return super().from_json(source)

    def to_json(self) -> str:
        """The text of ``config.json`` (two-space indent, UTF-8 kept, a final newline)."""
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2) + "\n"

    # --- what the classifier reads -----------------------------------------------------------------
    @property
    def normalises_tfidf(self) -> bool:
        """The TF-IDF view reads normalised text."""
        return self.tfidf_input == "normalised"

    @property
    def normalises_encoder_input(self) -> bool:
        """The encoder reads normalised text."""
        return self.encoder_input == "normalised"

    @property
    def segment_threshold(self) -> float:
        """Top sentiment probability below which themes get their clause's sentiment."""
        value = self.segment_below_confidence
        return DEFAULT_SEGMENT_BELOW_CONFIDENCE if value is None else float(value)

    @property
    def zero_shot_themes(self) -> tuple[str, ...]:
        """The themes an adapted artifact detects with no training (``taxonomy.zero_shot``)."""
        return tuple(self.taxonomy.zero_shot or ()) if self.taxonomy is not None else ()
