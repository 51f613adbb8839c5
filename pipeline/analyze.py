"""Run feedback files through the pipeline: ingest -> validate -> language -> normalise -> classify -> store.

:func:`analyze_batch` does one batch and is what the Prefect flows call;
:func:`analyze` streams whole inputs through it in batches, so memory stays
flat however large the input. Every row read ends up exactly once as
analysed, quarantined or duplicate, and the run summary says how many.
:func:`analyze_texts` runs the same steps on texts in memory, with no store.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

from sada.pipeline.classify import Classifier, classify_texts
from sada.pipeline.config import Settings
from sada.pipeline.ingest import ColumnMapping, FileLayout, RawRow, check_encoding, read_inputs
from sada.pipeline.language import LANGUAGES, LanguageIdentifier, default_identifier, unsupported_detail
from sada.pipeline.normalise import Normaliser, mask_pii
from sada.pipeline.pii import pseudonymous_id
from sada.pipeline.store import Store
from sada.pipeline.validate import FeedbackItem, Rejection, validate

__all__ = [
    "BatchCounts", "PreparedBatch", "RunSummary", "analyze", "analyze_batch", "analyze_texts", "batched",
    "chosen_columns", "prepare_batch", "run_batches", "sheets_read", "store_batch", "summarise",
]

logger = logging.getLogger(__name__)


@dataclass
class BatchCounts:
    """What happened to the rows of one batch (or a whole run, summed)."""

    rows_read: int = 0
    analysed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    #: Analysed rows replaced by a newer row with the same id later in the same batch (counted in ``analysed``).
    superseded: int = 0
    languages: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    #: How each file (or sheet) was read, by source file: its header rows and chosen columns.
    files: dict[str, FileLayout] = field(default_factory=dict)
    #: Rows read per source file (what a progress bar per file shows).
    rows_by_file: Counter = field(default_factory=Counter)

    def __iadd__(self, other: BatchCounts) -> BatchCounts:
        self.rows_read += other.rows_read
        self.analysed += other.analysed
        self.quarantined += other.quarantined
        self.duplicates += other.duplicates
        self.superseded += other.superseded
        self.languages.update(other.languages)
        self.reasons.update(other.reasons)
        self.files.update(other.files)
        self.rows_by_file.update(other.rows_by_file)
        return self


@dataclass
class RunSummary:
    """The summary ``sada analyze --json`` prints; the first five keys are a contract."""

    rows_read: int
    analysed: int
    quarantined: int
    duplicates: int
    languages: dict[str, int]
    quarantine_reasons: dict[str, int]
    #: Analysed rows that a newer row with the same id replaced in the same run (so the store holds one).
    superseded: int
    run_id: str
    model_version: str | None
    seconds: float
    items_per_second: float
    #: Title and survey metadata rows skipped around the files' headers: not feedback, not in ``rows_read``.
    header_rows: int = 0
    #: The column read for each field: a name, or a list of names when files differ.
    columns: dict[str, str | list[str]] = field(default_factory=dict)
    #: The sheets read from each workbook.
    sheets: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def batched(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    """Consecutive lists of at most ``size`` rows."""
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


@dataclass
class PreparedBatch:
    """A batch after validation, language ID, de-duplication and normalisation, before classification."""

    records: list[dict[str, Any]]
    languages: list[str]
    texts: list[str]
    rejections: list[dict[str, Any]]
    counts: BatchCounts
    mask_pii: bool = True
    #: The texts as the default normaliser wrote them (the classifier's input), or None when the
    #: run's normaliser differs (``--no-mask-pii``) and the classifier must normalise them itself.
    normalised: list[str] | None = None


def prepare_batch(
    rows: Sequence[RawRow],
    store: Store,
    run_id: str,
    settings: Settings,
    identifier: LanguageIdentifier,
    normaliser: Normaliser,
    seen: dict[str, str] | None = None,
) -> PreparedBatch:
    """Validate, identify and normalise a batch; drop items already stored with the same content.

    ``seen`` (feedback_id -> content hash) carries the ids met earlier in the
    same run, so a row repeated inside one input counts as a duplicate.
    """
    counts = BatchCounts(rows_read=len(rows))
    for row in rows:
        counts.rows_by_file[row.source_file] += 1
        if row.layout is not None:
            counts.files[row.layout.source_file] = row.layout
    rejections: list[Rejection] = []
    valid = _validated(rows, settings, rejections)
    supported = _supported_language(valid, identifier, rejections)
    fresh = _new_content(supported, store, {} if seen is None else seen, counts)
    records = [_record(item, guess, normaliser(item.text, guess.language), settings.mask_pii, run_id)
               for item, guess in fresh]
    counts.quarantined = len(rejections)
    counts.reasons.update(r.reason for r in rejections)
    return PreparedBatch(
        records=records,
        languages=[guess.language for _, guess in fresh],
        texts=[item.text for item, _ in fresh],
        rejections=[_quarantine_row(r, settings.mask_pii) for r in rejections],
        counts=counts,
        mask_pii=settings.mask_pii,
        normalised=[r["normalised_text"] for r in records] if normaliser.is_default else None,
    )


def _validated(rows: Sequence[RawRow], settings: Settings,
               rejections: list[Rejection]) -> list[tuple[FeedbackItem, dict[str, object]]]:
    """Rows that pass validation, each with its input fields (kept for a later quarantine); the rest rejected."""
    valid = []
    for row in rows:
        outcome = _validate_safely(row, settings)
        if isinstance(outcome, Rejection):
            rejections.append(outcome)
        else:
            valid.append((outcome, row.fields))
    return valid


def _supported_language(valid: list[tuple[FeedbackItem, dict[str, object]]], identifier: LanguageIdentifier,
                        rejections: list[Rejection]) -> list[tuple[FeedbackItem, Any]]:
    """Items in a language Sada analyses, with their language guess; the others rejected."""
    guesses = identifier.predict([item.text for item, _ in valid])
    kept = []
    for (item, row_fields), guess in zip(valid, guesses):
        detail = unsupported_detail(guess.language)  # another script, or Urdu, Kurdish, Pashto, ...
        if detail is not None:
            rejections.append(Rejection(item.source_file, item.row_number, "unsupported_language", detail,
                                        row_fields))
        else:
            kept.append((item, guess))
    return kept


def _new_content(kept: list[tuple[FeedbackItem, Any]], store: Store, seen: dict[str, str],
                 counts: BatchCounts) -> list[tuple[FeedbackItem, Any]]:
    """Items whose content neither the store nor this run has met yet; duplicates and superseded rows counted.

    The same id with other content later in the batch: the newer row wins, and the rows it replaces
    share its fate (analysed, or duplicates when the newest is what the store already holds).
    """
    stored = store.known_hashes(item.feedback_id for item, _ in kept)
    newest: dict[str, tuple[FeedbackItem, Any]] = {}
    replaced: Counter = Counter()
    for item, guess in kept:
        earlier = newest.get(item.feedback_id)
        if item.content_hash in (seen.get(item.feedback_id), earlier and earlier[0].content_hash):
            counts.duplicates += 1  # met earlier in this run
            continue
        if earlier:
            replaced[item.feedback_id] += 1
        newest[item.feedback_id] = (item, guess)
    fresh = []
    for feedback_id, (item, guess) in newest.items():
        seen[feedback_id] = item.content_hash
        if stored.get(feedback_id) == item.content_hash:
            counts.duplicates += 1 + replaced[feedback_id]
        else:
            counts.superseded += replaced[feedback_id]
            fresh.append((item, guess))
    return fresh


def _record(item: FeedbackItem, guess: Any, norm: Any, mask: bool, run_id: str) -> dict[str, Any]:
    """The feedback row the store keeps for one item (PII masked and customer ids pseudonymised when ``mask``)."""
    return {
        "feedback_id": item.feedback_id, "content_hash": item.content_hash,
        "source_file": item.source_file, "row_number": item.row_number,
        "source": item.source,
        "channel": mask_pii(item.channel) if mask and item.channel else item.channel,
        "customer_id": pseudonymous_id(item.customer_id) if mask and item.customer_id else item.customer_id,
        "created_at": item.created_at, "rating": item.rating, "nps_score": item.nps_score,
        "language": guess.language, "language_confidence": round(guess.confidence, 4),
        "raw_text": mask_pii(item.text) if mask else item.text,
        "normalised_text": norm.text, "cues": norm.cues.as_dict(), "run_id": run_id,
    }


def store_batch(prepared: PreparedBatch, predictions: list[dict[str, Any]], store: Store, run_id: str) -> BatchCounts:
    """Write a prepared batch and its predictions; returns the batch's final counts."""
    counts = prepared.counts
    results = [{**p, "feedback_id": r["feedback_id"]} for r, p in zip(prepared.records, predictions)]
    written, refused = store.add_feedback_or_refuse(prepared.records, results)  # one record per id
    counts.analysed = len(written) + counts.superseded
    # another writer stored them first
    counts.duplicates += len(prepared.records) - len(written) - len(refused)
    counts.languages.update(r["language"] for r in prepared.records if r["feedback_id"] in written)
    rejections = list(prepared.rejections)
    for record in refused:
        rejections.append(_quarantine_row(Rejection(
            record["source_file"], record["row_number"], "store_rejected", record["error"],
            {k: record.get(k) for k in ("feedback_id", "customer_id", "channel", "raw_text")}), prepared.mask_pii))
    counts.quarantined += len(refused)
    counts.reasons.update(["store_rejected"] * len(refused))
    store.add_quarantine(run_id, rejections)
    return counts


def analyze_batch(
    rows: Sequence[RawRow],
    store: Store,
    run_id: str,
    settings: Settings,
    identifier: LanguageIdentifier,
    normaliser: Normaliser,
    classifier: Classifier | None = None,
    seen: dict[str, str] | None = None,
) -> BatchCounts:
    """:func:`prepare_batch`, :func:`classify_texts` and :func:`store_batch` in one call."""
    prepared = prepare_batch(rows, store, run_id, settings, identifier, normaliser, seen)
    predictions = classify_texts(prepared.texts, prepared.languages, classifier, prepared.normalised)
    return store_batch(prepared, predictions, store, run_id)


def _validate_safely(row: RawRow, settings: Settings) -> FeedbackItem | Rejection:
    """:func:`validate`, with any unexpected failure turned into a quarantined ``invalid_row``."""
    try:
        return validate(row, settings.max_text_length, settings.date_dayfirst)
    except Exception as exc:  # one bad cell must never stop the run
        logger.exception("validating %s row %d failed; quarantined as invalid_row", row.source_file, row.row_number)
        return Rejection(row.source_file, row.row_number, "invalid_row", f"{type(exc).__name__}: {exc}", row.fields)


#: Quarantined values longer than this keep a prefix, their length and their SHA-256 (a 50 MB cell stays small).
QUARANTINE_VALUE_CHARS = 2000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: no database column takes them


def _storable(value: object, mask: bool) -> object:
    """A quarantined cell as the store can hold it: masked, NUL/surrogate-free, bounded, JSON-typed."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if mask and abs(value) >= 10**7 and float(value).is_integer():
            value = str(int(value))  # a phone or card number typed as a number in a spreadsheet
        else:
            return value
    text = value if isinstance(value, str) else str(value)
    text = _UNSTORABLE.sub("\ufffd", text)
    note = ""
    if len(text) > QUARANTINE_VALUE_CHARS:
        note = f"… [{len(text)} characters, sha256 {hashlib.sha256(text.encode('utf-8')).hexdigest()}]"
        cut = text[:QUARANTINE_VALUE_CHARS]
        # end on a word boundary, so half a phone number cannot slip past the masking
        text = cut.rsplit(None, 1)[0] if not text[QUARANTINE_VALUE_CHARS].isspace() and " " in cut else cut
    return (mask_pii(text) if mask else text) + note


def _quarantine_row(rejection: Rejection, mask: bool) -> dict[str, Any]:
    fields = {str(k): _storable(v, mask) for k, v in rejection.fields.items()}
    return {"source_file": _storable(rejection.source_file, False), "row_number": rejection.row_number,
            "reason": rejection.reason, "detail": _storable(rejection.detail, mask), "fields": fields}


def summarise(total: BatchCounts, run_id: str, model_version: str | None, seconds: float) -> RunSummary:
    """The run summary of summed batch counts; checks that every row is accounted for."""
    summary = RunSummary(
        rows_read=total.rows_read, analysed=total.analysed, quarantined=total.quarantined,
        duplicates=total.duplicates,
        languages={lang: total.languages.get(lang, 0) for lang in LANGUAGES},
        quarantine_reasons=dict(sorted(total.reasons.items())), superseded=total.superseded, run_id=run_id,
        model_version=model_version,
        seconds=round(seconds, 3), items_per_second=round(total.rows_read / seconds, 1) if seconds else 0.0,
        header_rows=sum(layout.header_rows for layout in total.files.values()),
        columns=chosen_columns(total.files.values()), sheets=sheets_read(total.files.values()),
    )
    if summary.analysed + summary.quarantined + summary.duplicates != summary.rows_read:
        raise RuntimeError(f"row accounting is off, please report this as a bug: {summary}")
    return summary


def chosen_columns(layouts: Iterable[FileLayout]) -> dict[str, str | list[str]]:
    """The column each field was read from: one name, or the distinct names in file order when files differ.

    Example:
        >>> a = FileLayout("a.csv", columns={"text": "Q2", "nps_score": "Q1"})
        >>> b = FileLayout("b.csv", columns={"text": "comment"})
        >>> chosen_columns([a]), chosen_columns([a, b])
        ({'text': 'Q2', 'nps_score': 'Q1'}, {'text': ['Q2', 'comment'], 'nps_score': 'Q1'})
    """
    names: dict[str, list[str]] = {}
    for layout in layouts:
        for name, column in layout.columns.items():
            if column not in names.setdefault(name, []):
                names[name].append(column)
    return {name: found[0] if len(found) == 1 else found for name, found in names.items()}


def sheets_read(layouts: Iterable[FileLayout]) -> dict[str, list[str]]:
    """The sheets read from each workbook, by file."""
    sheets: dict[str, list[str]] = {}
    for layout in layouts:
        if layout.sheet is not None:
            path = layout.source_file.removesuffix(f"#{layout.sheet}")
            sheets.setdefault(path, []).append(layout.sheet)
    return sheets


class _Done:
    """A batch processed on the spot, with the one method of a future that :func:`run_batches` uses."""

    def __init__(self, counts: BatchCounts) -> None:
        self._counts = counts

    def result(self) -> BatchCounts:
        return self._counts


def run_batches(
    rows: Iterable[RawRow],
    store: Store,
    run_id: str,
    settings: Settings,
    submit: Callable[[list[RawRow]], Any],
    model_version: str | None,
    max_in_flight: int = 1,
    on_batch: Callable[[BatchCounts, BatchCounts], None] | None = None,
) -> RunSummary:
    """The batch loop of ``sada analyze`` and of the analyse-feedback flow; finishes the run.

    Args:
        rows: The input rows, read lazily.
        store: The store the run writes to; the run is marked ``failed`` if anything raises.
        run_id: From :meth:`Store.start_run`.
        settings: ``batch_size`` rows go to each ``submit``.
        submit: Processes one batch; returns anything with ``result() -> BatchCounts`` (a future).
        model_version: For the summary.
        max_in_flight: Batches submitted but not yet collected; bounds memory however large the input.
        on_batch: Called with each batch's counts and the running total, in submission order.

    Returns:
        The run summary (rows accounted for, see :func:`summarise`).
    """
    start = time.perf_counter()
    total, pending = BatchCounts(), deque()

    def collect() -> None:
        nonlocal total
        counts = pending.popleft().result()
        total += counts
        if on_batch:
            on_batch(counts, total)

    try:
        for batch in batched(rows, settings.batch_size):
            pending.append(submit(batch))
            while len(pending) >= max_in_flight:
                collect()
        while pending:
            collect()
    except BaseException:
        store.finish_run(run_id, {"rows_read": total.rows_read}, status="failed")
        raise
    summary = summarise(total, run_id, model_version, time.perf_counter() - start)
    store.finish_run(run_id, summary.as_dict())
    return summary


def analyze(
    inputs: Sequence[str],
    store: Store,
    settings: Settings,
    mapping: ColumnMapping | None = None,
    encoding: str | None = None,
    classifier: Classifier | None = None,
    identifier: LanguageIdentifier | None = None,
    on_batch: Callable[[BatchCounts, BatchCounts], None] | None = None,
    sheet: str | None = None,
) -> RunSummary:
    """Analyse every row of ``inputs`` and store the results, one batch after another; returns the run summary.

    ``sheet`` picks the sheets read from workbooks (a name, a number from 1 or ``all``;
    default: the sheet holding the data); ``on_batch`` gets each batch's counts and the
    running total (a progress bar's hook).
    """
    encoding = check_encoding(encoding)
    run_id = store.start_run("analyze", [str(i) for i in inputs])
    identifier = identifier or default_identifier()
    normaliser = Normaliser(mask_pii=settings.mask_pii)
    seen: dict[str, str] = {}

    def submit(rows: list[RawRow]) -> _Done:
        return _Done(analyze_batch(rows, store, run_id, settings, identifier, normaliser, classifier, seen))

    return run_batches(read_inputs(inputs, mapping, encoding, sheet), store, run_id, settings, submit,
                       getattr(classifier, "model_version", None), on_batch=on_batch)


_mask_text = mask_pii  # analyze_texts' mask_pii argument shadows the function


def analyze_texts(
    texts: Sequence[str],
    classifier: Classifier | None,
    *,
    mask_pii: bool = True,
    identifier: LanguageIdentifier | None = None,
) -> list[dict[str, Any]]:
    """Language, normalised text and predictions for texts in memory: no files, no store.

    The steps and results are those of :func:`analyze` for the same text, so an item
    gets the same result here as in a stored run. :func:`sada.analyze_texts` is this
    with the default classifier loaded for you.

    Args:
        texts: The texts, any mix of Arabic, Persian and other languages.
        classifier: A loaded classifier, or ``None`` to stop after language ID and normalisation.
        mask_pii: Mask e-mails, phones, cards and IBANs in the returned texts.
        identifier: A language identifier; ``None`` uses the one shipped with Sada.

    Returns:
        One dict per text, in order: ``text`` (masked when ``mask_pii``), ``language``,
        ``language_confidence``, ``normalised_text``, ``error`` (``None``, ``not_text``,
        ``empty_text`` or ``unsupported_language``) and, when classified and ``error`` is
        ``None``, the prediction's ``sentiment``, ``sentiment_probs``, ``themes``,
        ``theme_sentiment``, ``is_complaint`` and ``model_version``. A bad item never stops the others.

    Example:
        >>> rows = analyze_texts(["التوصيل تأخر ساعتين", "پشتیبانی جواب نداد", "", 42], None)
        >>> [(r["language"], r["error"]) for r in rows]
        [('ar', None), ('fa', None), (None, 'empty_text'), (None, 'not_text')]
        >>> rows[1]["normalised_text"]
        'پشتیبانی جواب نداد'
    """
    identifier = identifier or default_identifier()
    normaliser = Normaliser(mask_pii=mask_pii)
    rows: list[dict[str, Any]] = []
    for text in texts:
        error = "not_text" if not isinstance(text, str) else "empty_text" if not text.strip() else None
        rows.append({"text": text if error != "not_text" else None, "language": None, "language_confidence": None,
                     "normalised_text": None, "error": error})
    valid = [row for row in rows if row["error"] is None]
    for row, guess in zip(valid, identifier.predict([row["text"] for row in valid])):
        row["language"], row["language_confidence"] = guess.language, round(guess.confidence, 4)
        if unsupported_detail(guess.language) is not None:
            row["error"] = "unsupported_language"
            continue
        row["normalised_text"] = normaliser(row["text"], guess.language).text
    ready = [row for row in rows if row["error"] is None]
    predictions = classify_texts([row["text"] for row in ready], [row["language"] for row in ready], classifier,
                                 [row["normalised_text"] for row in ready] if normaliser.is_default else None)
    for row, prediction in zip(ready, predictions):
        row.update(prediction)
    if mask_pii:
        for row in rows:
            if row["text"]:
                row["text"] = _mask_text(row["text"])
    return rows
