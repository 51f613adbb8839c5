"""The ``sada`` command line.

Command names, options and ``--json`` keys are a contract that other tools
rely on: add to them, never rename them.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from pipeline.errors import SadaError

__all__ = ["main"]

logger = logging.getLogger(__name__)

MIN_PYTHON = (3, 12)


def _echo_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


class _Group(click.Group):
    """Turns Sada's own errors into one-line messages and a non-zero exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SadaError as exc:
            raise click.ClickException(str(exc)) from None
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
            raise click.ClickException(f"{exc.strerror}: {exc.filename}") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Sada: what Arabic- and Persian-speaking customers say, and who is about to leave.

    Ingest reviews, survey comments and tickets; identify the language;
    normalise with camel-tools (Arabic) and hazm (Persian); classify sentiment
    and complaint themes; store the results; link them to churn risk.
    """
    if sys.version_info < MIN_PYTHON:
        raise click.ClickException(
            f"Sada needs Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]} or newer, found {sys.version.split()[0]}; "
            "run it from the virtual environment that `make` creates"
        )
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


# --- feedback analysis (issue 2) ------------------------------------------------------------

_db_option = click.option("--db", "db", metavar="URL", help="Store URL (default: SADA_DATABASE_URL or sqlite:///sada.sqlite).")
_json_option = click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")


def _run_analysis(inputs: list[str], db: str | None, mapping: list[str], encoding: str | None,
                  mask_pii: bool | None, max_length: int | None) -> dict[str, Any]:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from pipeline.analyze import analyze
    from pipeline.config import load_settings
    from pipeline.ingest import ColumnMapping
    from pipeline.store import Store

    settings = load_settings(database_url=db, mask_pii=mask_pii, max_text_length=max_length)
    columns = ColumnMapping.parse(mapping)
    store = Store.open(settings.database_url)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed} rows"),
                  TimeElapsedColumn(), console=_stderr_console(), transient=True) as progress:
        task = progress.add_task("analysing", total=None)
        summary = analyze(inputs, store, settings, columns, encoding,
                          on_batch=lambda counts: progress.advance(task, counts.rows_read))
    return summary.as_dict()


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def _print_summary(summary: dict[str, Any]) -> None:
    langs = ", ".join(f"{k} {v}" for k, v in summary["languages"].items())
    click.echo(f"rows read    {summary['rows_read']}")
    click.echo(f"analysed     {summary['analysed']}  ({langs})")
    click.echo(f"quarantined  {summary['quarantined']}" + (
        "  (" + ", ".join(f"{k} {v}" for k, v in summary["quarantine_reasons"].items()) + ")"
        if summary["quarantine_reasons"] else ""))
    click.echo(f"duplicates   {summary['duplicates']}")
    click.echo(f"run {summary['run_id']} in {summary['seconds']} s ({summary['items_per_second']} rows/s)")


@main.command()
@click.option("--input", "-i", "inputs", multiple=True, required=True, type=click.Path(exists=True),
              help="A feedback file (.csv .tsv .jsonl .xlsx .parquet) or a folder of them; repeatable.")
@_db_option
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN",
              help="Read FIELD (text, feedback_id, customer_id, created_at, source, rating, nps_score, channel) "
                   "from COLUMN; repeatable. Unmapped fields are detected from common header names.")
@click.option("--encoding", help="Force the text encoding (default: detect UTF-8/UTF-16/Windows-1256).")
@click.option("--mask-pii/--no-mask-pii", default=None, help="Mask URLs, e-mails, phone and card numbers (default on).")
@click.option("--max-length", type=int, help="Quarantine texts longer than this many characters (default 5000).")
@_json_option
def analyze(inputs: tuple[str, ...], db: str | None, mapping: tuple[str, ...], encoding: str | None,
            mask_pii: bool | None, max_length: int | None, as_json: bool) -> None:
    """Ingest feedback files, analyse every row and store the results.

    Each row is counted exactly once: analysed, quarantined (with a reason) or
    a duplicate of an item already stored. Re-running on the same files adds nothing.
    """
    summary = _run_analysis(list(inputs), db, list(mapping), encoding, mask_pii, max_length)
    _echo_json(summary) if as_json else _print_summary(summary)


@main.command()
@_db_option
@_json_option
def run(db: str | None, as_json: bool) -> None:
    """Run the whole job on the sample corpus (corpus/feedback.csv) with defaults."""
    from pipeline.config import load_settings

    settings = load_settings()
    corpus_file = settings.corpus_dir / "feedback.csv"
    if not corpus_file.is_file():
        raise click.ClickException(
            f"expected the sample corpus at {corpus_file}, found nothing; "
            "run `python -m corpus.build` or set SADA_CORPUS_DIR"
        )
    summary = _run_analysis([str(corpus_file)], db, [], None, None, None)
    _echo_json(summary) if as_json else _print_summary(summary)

# --- corpus (issue 3) -----------------------------------------------------------------------


@main.group("corpus")
def corpus_group() -> None:
    """The sample corpus in corpus/ (build it with `python -m corpus.build`)."""


@corpus_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@click.option("--corpus-dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Corpus folder (default: SADA_CORPUS_DIR or corpus/).")
def corpus_stats_cmd(as_json: bool, corpus_dir: str | None) -> None:
    """Counts per language, sentiment, theme, domain and source; customers and churned."""
    from pipeline.corpus import corpus_stats

    stats = corpus_stats(corpus_dir)
    if as_json:
        _echo_json(stats)
        return
    click.echo(f"items: {stats['items']}")
    for key in ("by_language", "by_sentiment", "by_theme", "by_domain", "by_source", "by_split"):
        parts = ", ".join(f"{k} {v}" for k, v in stats[key].items())
        click.echo(f"{key[3:]}: {parts}")
    click.echo(f"no theme: {stats['no_theme']}")
    click.echo(f"customers: {stats['customers']} (with feedback {stats['customers_with_feedback']}), "
               f"churned: {stats['churned']} ({stats['churn_rate']:.1%})")


# --- models: train / evaluate (issue 4) -----------------------------------------------------


if __name__ == "__main__":  # pragma: no cover
    main()
