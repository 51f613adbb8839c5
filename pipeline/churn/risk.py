"""Churn risk, the whole step: customers -> features -> measured, calibrated scores -> store.

The entry point for the Prefect flow and the report is :func:`score_churn`::

    from sada.pipeline.churn import score_churn
    from sada.pipeline.store import Store

    report = score_churn(Store.open("sqlite:///sada.sqlite"))          # the customers already in the store
    report = score_churn(store, customers_path="telco_churn.csv")       # any CSV/Parquet customer file
    report.metrics["auc"], report.scores.head(), report.drivers, report.nps["overall"]

It reads and validates the customers (:mod:`sada.pipeline.churn.customers`), stores them,
joins them to the analysed feedback in the store (the newest analysis per item;
:func:`sada.pipeline.churn.features.feedback_input_label` says which), builds
point-in-time features as of the as-of date (:mod:`sada.pipeline.churn.features`),
measures the model on a seeded stratified held-out split
(:mod:`sada.pipeline.churn.evaluation`), refits on every labelled customer
(:mod:`sada.pipeline.churn.model`), scores everyone with bands, segments
(:mod:`sada.pipeline.churn.segments`) and reasons (:mod:`sada.pipeline.churn.reasons`),
writes ``churn_scores`` and returns a :class:`~sada.pipeline.churn.report.ChurnReport` with
the driver analysis (:mod:`sada.pipeline.churn.drivers`) and NPS tables.

Nothing here knows the sample corpus: its as-of date and order window are handed in by
the commands that use it (``sada reproduce``), like any team's.

Example:
    >>> cust = pd.DataFrame({"churn_date": pd.to_datetime(["2025-03-01", None]),
    ...                      "signup_date": pd.to_datetime(["2024-01-01", "2025-05-02"])})
    >>> default_as_of(cust, None)
    Timestamp('2025-05-02 00:00:00')
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sada.pipeline.churn.customers import CustomerLoad, load_customers_from_store, read_customers, save_customers
from sada.pipeline.churn.drivers import theme_drivers
from sada.pipeline.churn.evaluation import held_out_metrics
from sada.pipeline.churn.features import (
    FeatureConfig,
    FeatureSet,
    build_features,
    feedback_input_label,
    load_feedback_signals,
)
from sada.pipeline.churn.model import ChurnModel
from sada.pipeline.churn.reasons import reason_texts
from sada.pipeline.churn.report import ChurnReport, churn_model_version, nps_tables, write_report
from sada.pipeline.churn.segments import assign_bands, assign_segments
from sada.pipeline.config import Settings, load_settings
from sada.pipeline.errors import InputError
from sada.pipeline.taxonomy import load_taxonomy

__all__ = ["default_as_of", "score_churn", "score_customers"]


def default_as_of(frame: pd.DataFrame, feedback: pd.DataFrame | None) -> pd.Timestamp:
    """The as-of date the data implies: the latest churn, activity, signup or feedback date (else today)."""
    dates = [frame[c].max() for c in ("churn_date", "last_activity", "signup_date") if c in frame]
    if feedback is not None and len(feedback):
        dates.append(pd.to_datetime(feedback["created_at"]).max())
    dates = [d for d in dates if pd.notna(d)]
    return pd.Timestamp(max(dates)).normalize() if dates else pd.Timestamp(datetime.now().date())


def _read(store: Any, customers_path: str | Path | None, settings: Settings, id_column: str | None,
          churn_column: str | None, exclude: tuple[str, ...]) -> CustomerLoad:
    if customers_path is not None:
        return read_customers(customers_path, id_column=id_column, churn_column=churn_column, exclude=exclude,
                              dayfirst=settings.date_dayfirst, mask_pii=settings.mask_pii)
    load = load_customers_from_store(store)
    if not len(load.frame):
        raise InputError("expected customers in --customers or in the store, found none; pass --customers PATH")
    return load


def score_churn(store: Any, customers_path: str | Path | None = None, as_of: Any = None, *,
                orders_since: Any = None, id_column: str | None = None, churn_column: str | None = None,
                exclude: tuple[str, ...] = (), seed: int = 0, test_size: float = 0.2, n_seeds: int = 5,
                write: bool = True, feedback: pd.DataFrame | None = None) -> ChurnReport:
    """Score every customer's churn risk as of a date, measure it and write it to the store.

    Args:
        store: An open :class:`sada.pipeline.store.Store`.
        customers_path: Customer CSV/Parquet (default: the customers already in the store).
        as_of: As-of date (default: :func:`default_as_of`, the latest date in the customer file / feedback).
        orders_since: Date from which the file counts orders (e.g. the start of an export window;
            default: since each customer's signup).
        id_column: Source column of the customer id (default: detected).
        churn_column: Source column of the churn flag (default: detected).
        exclude: Attribute columns to leave out of the model.
        seed: Seed of the held-out split and the calibration folds.
        test_size: Held-out share.
        n_seeds: Also report the held-out AUC over this many seeds (``auc_seeds``, ``auc_mean``).
        write: Store customers, scores and the run.
        feedback: Feedback signals to use instead of the store's (tests, notebooks).

    Returns:
        The :class:`~sada.pipeline.churn.report.ChurnReport`.

    Raises:
        InputError: The file cannot be used (no labels to learn from, unreadable, bad as-of date).
        ColumnMappingError: No customer id column.
    """
    settings = load_settings()
    load = _read(store, customers_path, settings, id_column, churn_column, exclude)
    run_id = store.start_run("churn", [str(customers_path or "store")]) if write else None
    try:
        if write and customers_path is not None:
            save_customers(store, load, run_id)
        fb = feedback if feedback is not None else load_feedback_signals(store)
        config = FeatureConfig(exclude=tuple(load.excluded_columns) + tuple(exclude),
                               orders_since=None if orders_since is None else pd.Timestamp(orders_since))
        report = score_customers(load, fb, as_of, config, seed=seed, test_size=test_size, n_seeds=n_seeds)
        report.run_id = run_id
        if write:
            write_report(store, report)
    except BaseException:
        if write and run_id:
            store.finish_run(run_id, {}, status="failed")
        raise
    return report


def score_customers(load: CustomerLoad, fb: pd.DataFrame | None, as_of: Any, config: FeatureConfig, *,
                    seed: int = 0, test_size: float = 0.2, n_seeds: int = 5) -> ChurnReport:
    """Features, held-out metrics, final model, scores, drivers and NPS tables of loaded customers (no store)."""
    taxonomy = load_taxonomy()
    config.themes = taxonomy.ids
    names = {t.id: t.name("en") for t in taxonomy.themes}
    as_of = default_as_of(load.frame, fb) if as_of is None else as_of
    fs = build_features(load.frame, fb, as_of, config, load.attribute_columns)
    _require_labels(fs)
    metrics, reliability = held_out_metrics(fs, seed, test_size, n_seeds)
    metrics["feedback_input"] = feedback_input_label(fb)
    metrics["feedback_items_used"] = fs.feedback_used
    model, scores, coefficients = fit_and_score(fs, names, seed, config.recent_days)
    return ChurnReport(
        metrics=metrics, scores=scores, reliability=reliability, coefficients=coefficients,
        drivers=theme_drivers(fs.X, fs.info, fs.themes, model) if fs.themes else pd.DataFrame(),
        nps=nps_tables(fb, fs, scores, config.themes or fs.themes),
        customers={**load.summary(), **({"excluded": fs.excluded} if fs.excluded else {})},
        model_version=churn_model_version(fb, fs.feedback_used), as_of=fs.as_of.normalize())


def _require_labels(fs: FeatureSet) -> None:
    lab = fs.info["label"].dropna().astype(int)
    if len(lab) < 50 or lab.sum() < 10 or (len(lab) - lab.sum()) < 10:
        raise InputError(f"expected at least 50 customers with a churn flag, 10 of each outcome, found "
                         f"{len(lab)} ({int(lab.sum())} churned); pass --churn-column NAME or add the flag")


def fit_and_score(fs: FeatureSet, names: dict[str, str], seed: int = 0,
                  recent_days: int = 60) -> tuple[ChurnModel, pd.DataFrame, pd.DataFrame]:
    """Fit the model on every labelled customer and score everyone.

    Returns:
        ``(model, scores, coefficients)``: scores has one row per customer (``customer_id, score, band,
        segment, label, reasons``); coefficients the model's effects per design column, strongest first.
    """
    lab = fs.info["label"].dropna().astype(int)
    train = fs.X.loc[lab.index, fs.model_features]
    model = ChurnModel(seed=seed).fit(train, lab, fs.kinds)
    p_all = model.predict_proba(fs.X)
    bands = assign_bands(p_all)
    scores = pd.DataFrame({"customer_id": fs.X.index, "score": np.round(p_all, 4), "band": bands,
                           "segment": assign_segments(fs.info, bands), "label": fs.info["label"].to_numpy(),
                           "reasons": reason_texts(model, fs, names, recent_days=recent_days)})
    coefficients = (model.feature_effects(train).sort_values("log_odds_per_unit", ascending=False, key=abs)
                    .reset_index(drop=True))
    return model, scores, coefficients
