"""The CX report: one self-contained HTML file with charts, spike alerts and customer quotes.

Modules, one concept each:

* :mod:`~sada.pipeline.report.period`: reporting periods (``--period``);
* :mod:`~sada.pipeline.report.data`: reading feedback, analysis and churn scores from the store;
* :mod:`~sada.pipeline.report.metrics`: headline figures, series, theme tables, quotes, churn tables;
* :mod:`~sada.pipeline.report.spikes`: spike alerts;
* :mod:`~sada.pipeline.report.i18n`: interface language (en/ar/fa), number formats, direction;
* :mod:`~sada.pipeline.report.reasons`: churn reasons in the interface language;
* :mod:`~sada.pipeline.report.charts`: Plotly charts;
* :mod:`~sada.pipeline.report.build`: :func:`build_report`, the template (``templates/report.html.j2``).

Publishing a report to Prefect (link, spike-alert table) is the ``cx-report`` flow's job (flows/report.py).
"""

from __future__ import annotations

from sada.pipeline.report.build import ReportResult, build_report, default_report_path
from sada.pipeline.report.i18n import INTERFACE_LANGUAGES, Translator
from sada.pipeline.report.period import Period, parse_period
from sada.pipeline.report.spikes import detect_spikes

__all__ = ["INTERFACE_LANGUAGES", "Period", "ReportResult", "Translator", "build_report", "default_report_path",
           "detect_spikes", "parse_period"]
