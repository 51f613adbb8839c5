"""The report's charts, drawn with Plotly and embedded as ``<div>`` + ``<script>`` snippets.

Every figure is written without plotly.js (``include_plotlyjs=False``); the page
inlines the bundle once (:func:`plotly_bundle`), so the file works offline.
Customer text never goes into a chart; labels (theme names, languages) are
HTML-escaped because Plotly renders a subset of HTML in labels.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd
from plotly import graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from sada.pipeline.language import LANGUAGES
from sada.pipeline.report.i18n import Translator

__all__ = ["COLOURS", "plotly_bundle", "sentiment_chart", "theme_chart", "lift_chart", "risk_distribution_chart",
           "segment_chart", "nps_chart"]

#: Colours of sentiments and risk bands (colour-blind safe pairs).
COLOURS: dict[str, str] = {
    "negative": "#d1495b", "neutral": "#a8a8a8", "positive": "#2a9d8f",
    "low": "#2a9d8f", "medium": "#e9c46a", "high": "#d1495b",
}
_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}


def plotly_bundle() -> str:
    """The plotly.js bundle shipped with the installed plotly package (inlined once per report)."""
    return get_plotlyjs()


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=False)


def _layout(fig: Any, t: Translator, title: str | None = None, height: int = 360, top: int = 50,
            **extra: Any) -> None:
    fonts = ('"Vazirmatn", "Noto Naskh Arabic", "Noto Sans Arabic", Tahoma, "DejaVu Sans", sans-serif'
             if t.lang == "fa" else
             '"Noto Naskh Arabic", "Noto Sans Arabic", "Segoe UI", Tahoma, "DejaVu Sans", sans-serif'
             if t.lang == "ar" else
             'system-ui, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", Arial, sans-serif')
    fig.update_layout(
        template="plotly_white", height=height, font={"family": fonts, "size": 13},
        margin={"l": 60, "r": 20, "t": top, "b": 50},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1, "traceorder": "normal"},
        **({"title": {"text": _esc(title), "x": 0.01}} if title else {}), **extra)
    fig.update_yaxes(automargin=True, title_standoff=6)


def _label_margin(fig: Any, labels: list[str]) -> None:
    """Room for category labels on the y axis, from their length.

    Plotly's ``automargin`` under-measured Arabic-script labels (they came out clipped) because
    its off-screen text tester inherited the page's right-to-left direction; the template now
    measures left to right (``#js-plotly-tester``), but the margin is still set from the longest
    label here.
    """
    longest = max((len(x) for x in labels), default=0)
    fig.update_yaxes(automargin=False)
    fig.update_layout(margin={"l": int(min(320, 24 + 8.5 * longest))})


def _html(fig: Any, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_CONFIG)


def sentiment_chart(series: pd.DataFrame, t: Translator) -> str | None:
    """Stacked monthly sentiment counts, one panel per language (``None`` without data)."""
    if not len(series):
        return None

    langs = [lang for lang in LANGUAGES if lang in set(series["language"])]
    months = sorted(series["month"].unique())
    ticks = [t.month_key(m) for m in months]
    fig = make_subplots(rows=1, cols=len(langs), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[_esc(t.language(lang)) for lang in langs])
    for col, lang in enumerate(langs, start=1):
        part = series[series["language"] == lang]
        for s in ("negative", "neutral", "positive"):
            counts = part[part["sentiment"] == s].set_index("month")["n"].reindex(months, fill_value=0)
            fig.add_trace(go.Bar(x=ticks, y=counts.tolist(), name=_esc(t.t(s)), legendgroup=s,
                                 showlegend=col == 1, marker_color=COLOURS[s],
                                 hovertemplate="%{x}: %{y}<extra>" + _esc(t.t(s)) + "</extra>"), row=1, col=col)
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=ticks, tickangle=-45, row=1, col=col)
    fig.update_yaxes(title_text=_esc(t.t("count")), row=1, col=1)
    _layout(fig, t, barmode="stack", height=400, top=80)
    fig.update_layout(legend={"y": 1.1}, margin={"l": 85})
    return _html(fig, "chart-sentiment")


def theme_chart(table: pd.DataFrame, names: dict[str, str], t: Translator) -> str | None:
    """Horizontal stacked bars: mentions per theme by theme-level sentiment, most negative on top."""
    if not len(table):
        return None

    labels = [_esc(names.get(x, x)) for x in table["theme"]]
    fig = go.Figure()
    for s in ("negative", "neutral", "positive"):
        fig.add_trace(go.Bar(y=labels, x=table[s].tolist(), name=_esc(t.t(s)), orientation="h",
                             marker_color=COLOURS[s], hovertemplate="%{y}: %{x}<extra>" + _esc(t.t(s)) + "</extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text=_esc(t.t("mentions")))
    _layout(fig, t, barmode="stack", height=max(300, 34 * len(labels) + 110))
    _label_margin(fig, labels)
    return _html(fig, "chart-themes")


def lift_chart(drivers: pd.DataFrame | None, names: dict[str, str], t: Translator) -> str | None:
    """Lift (risk ratio) per theme with its confidence interval, on a log axis, with a line at 1."""
    if drivers is None or not len(drivers):
        return None

    d = drivers.dropna(subset=["lift"]).sort_values("lift", ascending=False)
    labels = [_esc(names.get(x, x)) for x in d["theme"]]
    fig = go.Figure(go.Scatter(
        x=d["lift"].tolist(), y=labels, mode="markers",
        marker={"size": 10, "color": [COLOURS["high"] if lo > 1 else COLOURS["neutral"] for lo in d["lift_lower"]]},
        error_x={"type": "data", "symmetric": False, "array": (d["lift_upper"] - d["lift"]).tolist(),
                 "arrayminus": (d["lift"] - d["lift_lower"]).tolist(), "thickness": 2, "width": 4},
        customdata=d[["lift_lower", "lift_upper", "n_with"]].to_numpy().tolist(),
        hovertemplate="%{y}: %{x:.2f} [%{customdata[0]:.2f}, %{customdata[1]:.2f}] n=%{customdata[2]}<extra></extra>",
        showlegend=False))
    fig.add_vline(x=1, line_dash="dash", line_color="#555")
    lo, hi = float(d["lift_lower"].clip(lower=1e-3).min()), float(d["lift_upper"].max())
    ticks = [v for v in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if lo / 2 <= v <= hi * 2]
    fig.update_xaxes(type="log", title_text=_esc(t.t("lift_axis")), tickvals=ticks,
                     ticktext=[t.number(v, 2 if v < 0.1 else 1 if v < 1 else 0) for v in ticks])
    fig.update_yaxes(autorange="reversed")
    _layout(fig, t, height=max(300, 34 * len(labels) + 110))
    _label_margin(fig, labels)
    return _html(fig, "chart-lift")


def risk_distribution_chart(scores: pd.DataFrame, t: Translator) -> str | None:
    """Histogram of churn-risk scores, stacked by band."""
    if not len(scores):
        return None

    fig = go.Figure()
    bands = [b for b in ("low", "medium", "high") if b in set(scores["band"])] + sorted(
        b for b in set(scores["band"]) if b not in ("low", "medium", "high"))
    for band in bands:
        fig.add_trace(go.Histogram(x=scores.loc[scores["band"] == band, "score"].tolist(), name=_esc(t.band(band)),
                                   xbins={"start": 0, "end": 1.0001, "size": 0.05},
                                   marker_color=COLOURS.get(band, "#777")))
    fig.update_xaxes(title_text=_esc(t.t("score_axis")), range=[0, 1])
    fig.update_yaxes(title_text=_esc(t.t("customers")))
    _layout(fig, t, barmode="stack")
    return _html(fig, "chart-risk")


def segment_chart(scores: pd.DataFrame, t: Translator) -> str | None:
    """Customers per churn segment, stacked by risk band."""
    if not len(scores):
        return None

    order = [s for s in ("at risk", "new", "loyal", "churned") if s in set(scores["segment"])] + sorted(
        s for s in set(scores["segment"]) if s not in ("at risk", "new", "loyal", "churned"))
    labels = [_esc(t.segment(s)) for s in order]
    fig = go.Figure()
    for band in ("low", "medium", "high"):
        counts = scores[scores["band"] == band].groupby("segment").size().reindex(order, fill_value=0)
        if counts.sum():
            fig.add_trace(go.Bar(x=labels, y=counts.tolist(), name=_esc(t.band(band)),
                                 marker_color=COLOURS[band]))
    fig.update_xaxes(title_text=_esc(t.t("segment")), type="category")
    fig.update_yaxes(title_text=_esc(t.t("customers")))
    _layout(fig, t, barmode="stack")
    return _html(fig, "chart-segments")


def nps_chart(table: pd.DataFrame, t: Translator, min_answers: int = 3) -> str | None:
    """NPS per month: overall (thick) and per language (months with fewer than ``min_answers`` left out).

    Lines join consecutive months only: a month left out breaks the line, so a language with a few
    scattered months shows as separate points rather than straight lines across the months between.
    """
    if not len(table):
        return None

    months = sorted(table["month"].unique())
    ticks = [t.month_key(m) for m in months]
    fig = go.Figure()
    for lang in ["all", *[x for x in LANGUAGES if x in set(table["language"])]]:
        part = table[table["language"] == lang].set_index("month").reindex(months)
        part.loc[part["n"] < min_answers, "nps"] = None  # too few answers to plot
        name = t.t("all") if lang == "all" else t.language(lang)
        fig.add_trace(go.Scatter(x=ticks, y=part["nps"].tolist(), name=_esc(name), mode="lines+markers",
                                 line={"width": 4 if lang == "all" else 2}, connectgaps=False,
                                 customdata=part["n"].fillna(0).astype(int).tolist(),
                                 hovertemplate="%{x}: %{y:.0f} (n=%{customdata})<extra>" + _esc(name) + "</extra>"))
    fig.add_hline(y=0, line_color="#999", line_width=1)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=ticks, tickangle=-45)
    fig.update_yaxes(title_text="NPS", range=[-100, 100])
    _layout(fig, t)
    return _html(fig, "chart-nps")
