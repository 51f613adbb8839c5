"""Build the CX report: read the store, compute, draw and write one self-contained HTML file.

Example:
    >>> from sada.pipeline.report import build_report             # doctest: +SKIP
    >>> result = build_report(store, period="2026-06", lang="ar")  # doctest: +SKIP
    >>> result.path, [s["theme"] for s in result.spikes]      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from sada.pipeline.jsonable import jsonable
from sada.pipeline.pii import mask_pii, pseudonymous_id
from sada.pipeline.report import charts, metrics
from sada.pipeline.report.data import load_churn_snapshot, load_feedback, one_taxonomy
from sada.pipeline.report.i18n import Translator, quote_direction
from sada.pipeline.report.period import Period, parse_period
from sada.pipeline.report.reasons import localise_reason
from sada.pipeline.report.spikes import detect_spikes
from sada.pipeline.taxonomy import load_taxonomy

__all__ = ["ReportResult", "build_report", "default_report_path", "render_html"]

logger = logging.getLogger(__name__)

_LANG_TAG = {"ar": "ar", "fa": "fa", "mixed": "fa", "other": "und", "ar-Latn": "ar-Latn", "fa-Latn": "fa-Latn"}


@dataclass
class ReportResult:
    """What :func:`build_report` wrote and found.

    Attributes:
        path: The HTML file written.
        period: The reporting period's key (e.g. ``2026-06``).
        previous_period: The comparison period's key.
        lang: Interface language.
        spikes: Spike alerts (see :func:`sada.pipeline.report.spikes.detect_spikes`), for Prefect artifacts.
        headline: Headline figures of the period and the previous one, and their differences.
        sections: Which sections had data (``sentiment``, ``nps``, ``themes``, ``lift``, ``churn``, ``quotes``).
    """

    path: Path
    period: str
    previous_period: str
    lang: str
    spikes: list[dict[str, Any]] = field(default_factory=list)
    headline: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (what ``sada report --json`` prints)."""
        return {"path": str(self.path), "period": self.period, "previous_period": self.previous_period,
                "lang": self.lang, "spikes": self.spikes, "headline": jsonable(self.headline),
                "sections": self.sections}


def default_report_path(period: Period, lang: str) -> Path:
    """``out/sada-report-<period>-<lang>.html`` under the working directory."""
    safe = period.key.replace("..", "_to_")
    return Path("out") / f"sada-report-{safe}-{lang}.html"


def _candidate_view(candidate: Any, t: Translator) -> dict[str, Any]:
    """A candidate theme as the report shows it: size, key phrases and quotes per language, months."""
    return {"id": candidate.id,
            "line": t.t("candidate_line", complaints=t.count(candidate.size, "complaint"),
                        share=t.percent(candidate.share)),
            "phrases": [(lang, p) for lang, p in candidate.key_phrases.items() if p],
            "dirs": {lang: quote_direction(lang) for lang in candidate.key_phrases},
            "quotes": [{"text": mask_pii(q), "dir": quote_direction(lang), "lang": lang}
                       for lang, quotes in candidate.quotes.items() for q in quotes],
            "months": [(t.month_key(m), t.number(n))
                       for m, n in candidate.by_month.items()]}


def _tone(delta: Any, higher_is_bad: bool | None) -> str:
    if delta is None or pd.isna(delta) or delta == 0 or higher_is_bad is None:
        return "flat"
    return "bad" if (delta > 0) == higher_is_bad else "good"


def _kpis(h: dict[str, Any], t: Translator) -> list[dict[str, Any]]:
    cur, d = h["current"], h["delta"]
    langs = [(t.language(k), t.number(v)) for k, v in cur["by_language"].items() if v]
    sent = cur["sentiment"]
    nps = cur["nps"]
    kpis = [
        {"key": "items", "label": t.t("items"), "value": t.number(cur["items"]), "langs": langs,
         "delta": t.delta(d["items"]) if d["items"] is not None else None, "tone": "flat"},
        {"key": "negative", "label": f"{t.t('sentiment_mix')}: {t.t('negative')}",
         "value": t.percent(sent["negative"]),
         "detail": f"{t.t('neutral')} {t.percent(sent['neutral'])} · {t.t('positive')} {t.percent(sent['positive'])}"
                   f" · {t.t('of_classified', items=t.count(cur['classified'], 'classified_item', oblique=True))}",
         "delta": t.delta(d["sentiment"]["negative"], "pp") if d["sentiment"]["negative"] is not None else None,
         "unit": t.unit("pp"),
         "tone": _tone(d["sentiment"]["negative"], True)},
        {"key": "nps", "label": t.t("nps"), "value": t.number(nps["nps"]),
         "detail": (f"{t.t('promoters')} {t.percent(nps['promoters'])} · {t.t('passives')} "
                    f"{t.percent(nps['passives'])} · {t.t('detractors')} {t.percent(nps['detractors'])} · "
                    f"{t.count(nps['n'], 'answer')}") if nps["n"] else None,
         "delta": t.delta(d["nps"]) if d["nps"] is not None else None, "tone": _tone(d["nps"], False)},
        {"key": "complaints", "label": t.t("complaint_rate"), "value": t.percent(cur["complaint_rate"]),
         "delta": t.delta(d["complaint_rate"], "pp") if d["complaint_rate"] is not None else None,
         "unit": t.unit("pp"),
         "tone": _tone(d["complaint_rate"], True)},
        {"key": "at_risk", "label": t.t("at_risk"),
         "value": t.number(cur["at_risk"]) if cur["at_risk"] is not None else "–",
         "detail": t.t("high_band", date=t.date(cur["at_risk_as_of"])) if cur["at_risk_as_of"] is not None else None,
         "delta": t.delta(d["at_risk"]) if d["at_risk"] is not None else None, "tone": _tone(d["at_risk"], True)},
    ]
    return [{"detail": None, "langs": None, "unit": "", **k} for k in kpis]


def _quote_view(q: dict[str, Any], t: Translator, extra: str = "") -> dict[str, Any]:
    meta = " · ".join(x for x in (t.language(q.get("language")), t.channel(q.get("channel"))) if x)
    # masked here too: with --no-mask-pii the store holds raw text, but a report travels further than a database
    return {"text": mask_pii(q["text"]), "dir": quote_direction(q.get("language")), "lang": _LANG_TAG.get(q.get("language"), "und"),
            "sentiment": q.get("sentiment", ""), "meta": meta, "date": t.date(q.get("created_at")), "extra": extra}


def render_html(context: dict[str, Any]) -> str:
    """Render the report template with ``context`` (Jinja2, autoescaping on)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(loader=PackageLoader("sada.pipeline.report", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(**context)


def build_report(store: Any, out: str | Path | None = None, period: str | None = None, lang: str = "en", *,
                 themes: str | Path | None = None, candidates: list[Any] | None = None, baseline: int = 6, z: float = 2.0,
                 top_customers: int = 15, now: datetime | None = None) -> ReportResult:
    """Write the CX report for ``period`` in interface language ``lang``.

    Args:
        store: An open :class:`sada.pipeline.store.Store`; the report reads whatever it holds.
        out: HTML file to write (default: :func:`default_report_path`); folders are created.
        period: ``--period`` text (see :mod:`sada.pipeline.report.period`); default: the newest item's month.
        lang: ``en``, ``ar`` or ``fa``.
        themes: The theme taxonomy file (theme names and order); default: ``SADA_THEMES`` or the shipped one.
        candidates: Candidate themes among the complaints no theme covers
            (:func:`sada.pipeline.discovery.discover`), shown in their own section; None: no section.
        baseline: Trailing periods of the spike baseline.
        z: Standard deviations above the baseline for a spike.
        top_customers: Rows of the at-risk table.
        now: Timestamp printed as the generation time (default: now).

    Returns:
        The :class:`ReportResult` (path, spike alerts as data, headline figures).

    Raises:
        ConfigError: ``lang`` or ``period`` is invalid.
    """
    t = Translator(lang)
    taxonomy = load_taxonomy(themes)
    feedback_all = _feedback_of(store, taxonomy.version)
    p = parse_period(period, feedback_all["created_at"].max())
    prev = p.previous()
    feedback = feedback_all[feedback_all["created_at"] < p.end]
    names = {th.id: th.name(lang) for th in taxonomy.themes}

    churn_now = load_churn_snapshot(store, on_or_before=p.end)
    churn_before = (load_churn_snapshot(store, on_or_before=prev.end, before_as_of=churn_now.as_of)
                    if churn_now.as_of is not None else churn_now)
    head = metrics.headline(feedback, p, churn_now, churn_before)
    spikes, history = detect_spikes(feedback, p, baseline=baseline, z=z, theme_names=names or None)
    nonce = secrets.token_urlsafe(16)
    chart_html = _charts(store, feedback, p, taxonomy.ids, names, churn_now, t, nonce)
    quote_views = _quote_views(metrics.representative_quotes(feedback, p, taxonomy.ids), names, t)
    risk_views = _risk_views(metrics.at_risk_table(churn_now, top_customers), names, t)
    context = {
        "t": t, "nonce": nonce, "title": t.t("title"), "period_label": p.label(t),
        "subtitle": t.t("subtitle", period=p.label(t), previous=prev.label(t)),
        "generated": _generated_line(feedback_all, feedback, now, t),
        "plotly_js": Markup(charts.plotly_bundle().replace("</script", "<\\/script")),
        "kpis": _kpis(head, t), "charts": chart_html, "spikes": _spike_views(spikes, names, t),
        "spikes_note": t.t("spikes_note", z=t.number(z, 0 if float(z).is_integer() else 1), n=t.number(baseline)),
        "spikes_empty": t.t("no_spikes") if history >= 3 else t.t("no_baseline"),
        "at_risk": risk_views, "quotes": quote_views,
        "candidates": None if candidates is None else [_candidate_view(c, t) for c in candidates],
    }
    html = render_html(context)
    path = Path(out) if out else default_report_path(p, lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    logger.info("wrote %s (%d bytes, %d spike alerts)", path, len(html.encode()), len(spikes))
    sections = {"sentiment": chart_html["sentiment"] is not None, "nps": chart_html["nps"] is not None,
                "themes": chart_html["themes"] is not None, "lift": chart_html["lift"] is not None,
                "churn": chart_html["risk"] is not None, "quotes": bool(quote_views), "at_risk": bool(risk_views)}
    return ReportResult(path=path, period=p.key, previous_period=prev.key, lang=lang, spikes=spikes,
                        headline=head, sections=sections)


def _feedback_of(store: Any, taxonomy_version: str) -> pd.DataFrame:
    """The stored feedback; themes of items analysed with another taxonomy left out (one taxonomy per trend)."""
    feedback, other_taxonomy = one_taxonomy(load_feedback(store), taxonomy_version)
    if other_taxonomy:
        logger.warning("%d items were analysed with another taxonomy: their themes are left out of the report; "
                       "run `sada themes apply` to re-theme them", other_taxonomy)
    return feedback


_SCRIPT_TAG = re.compile(r"<script(?:\s+type=\"text/javascript\")?>")


def _with_nonce(snippet: str | None, nonce: str) -> Markup | None:
    """A chart's HTML with its inline scripts carrying the page's CSP nonce; None stays None (no chart)."""
    return Markup(_SCRIPT_TAG.sub(f'<script nonce="{nonce}">', snippet)) if snippet else None


def _charts(store: Any, feedback: pd.DataFrame, p: Period, theme_ids: list[str], names: dict[str, str],
            churn_now: Any, t: Translator, nonce: str) -> dict[str, Markup | None]:
    """Each chart of the report by section (None where its data is missing)."""
    themes = metrics.theme_table(feedback, p, theme_ids)
    snippets = {
        "sentiment": charts.sentiment_chart(metrics.sentiment_by_month(feedback, p.end), t),
        "nps": charts.nps_chart(metrics.nps_by_month(feedback, p.end), t),
        "themes": charts.theme_chart(themes, names, t),
        "lift": charts.lift_chart(metrics.churn_lift(store, churn_now), names, t),
        "risk": charts.risk_distribution_chart(churn_now.scores, t),
        "segments": charts.segment_chart(churn_now.scores, t),
    }
    return {key: _with_nonce(snippet, nonce) for key, snippet in snippets.items()}


def _spike_views(spikes: list[dict[str, Any]], names: dict[str, str], t: Translator) -> list[dict[str, Any]]:
    return [{
        "theme": s["theme"],
        "line": t.t("spike_line", complaints=t.count(s["count"], "complaint"), theme=names.get(s["theme"], s["theme"]),
                    language=t.language(s["language"]), channel=t.channel(s["channel"]),
                    mean=t.number(s["baseline_mean"], 1), sd=t.number(s["baseline_sd"], 1)),
        "examples": [_quote_view({**q, "channel": s["channel"], "sentiment": "negative"}, t) for q in s["examples"]],
    } for s in spikes]


def _quote_views(groups: list[dict[str, Any]], names: dict[str, str], t: Translator) -> list[dict[str, Any]]:
    return [{"theme": g["theme"], "name": names.get(g["theme"], g["theme"]),
             "quotes": [_quote_view(q, t, t.t(q["sentiment"]) if q["sentiment"] in metrics.SENTIMENTS else "")
                        for q in g["quotes"]]} for g in groups]


def _risk_views(at_risk: list[dict[str, Any]], names: dict[str, str], t: Translator) -> list[dict[str, Any]]:
    return [{"customer_id": pseudonymous_id(str(r["customer_id"])), "score": t.percent(r["score"]),
             "band": t.band(r["band"]), "band_key": r["band"], "segment": t.segment(r["segment"]),
             "reasons": [localise_reason(x, t, names) for x in r["reasons"]]}
            for r in at_risk]


def _generated_line(feedback_all: pd.DataFrame, feedback: pd.DataFrame, now: datetime | None, t: Translator) -> str:
    """"Generated on ... from N items by models ...": the footer that says what produced the report."""
    versions = sorted(str(v) for v in feedback["model_version"].dropna().unique())
    stamp = pd.Timestamp(now or datetime.now())
    return t.t("generated", date=t.digits(stamp.strftime("%Y-%m-%d %H:%M")), items=t.number(len(feedback_all)),
               models=", ".join(versions) if versions else t.t("no_classifier"))
