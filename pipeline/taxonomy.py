"""The theme taxonomy: which complaint and experience themes a team tracks, read from a YAML file.

The taxonomy is an input of the product: the shipped default (``taxonomies/default.yaml``), a
ready pack for a domain (``taxonomies/packs/*.yaml``) or a team's own file, chosen with
``--themes FILE`` or ``SADA_THEMES``. Layout (every field but ``id`` and one name optional)::

    themes:
      - id: atm                      # stable, lower-case ASCII: stored results refer to it
        parent: channels             # optional: another theme of the file (two-level hierarchy)
        names: {ar: الصراف الآلي, fa: خودپرداز, en: ATMs}
        descriptions: {en: Cash machines that are out of service, swallow cards or run out of cash.}
        seeds: {ar: [الصراف عطلان, سحب الكرت], fa: [عابربانک پول نداد], en: [atm out of service]}
        examples: {ar: [a real customer text about the theme, ...]}

>>> taxonomy = load_taxonomy()
>>> taxonomy.source, "delivery" in taxonomy.ids, taxonomy.name("delivery", "en")
('default', True, 'Delivery and logistics')
>>> len(taxonomy.version)
12
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from sada.pipeline.config import load_settings
from sada.pipeline.errors import TaxonomyError

__all__ = ["Theme", "Taxonomy", "default_taxonomy_path", "pack_paths", "load_taxonomy", "taxonomy_problems",
           "THEME_SEPARATOR", "parse_theme_cell", "format_theme_cell"]

#: The shipped default taxonomy and the ready packs (``packs/``), beside this module.
TAXONOMY_DIR = Path(__file__).resolve().parent / "taxonomies"
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_LANG_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z]{2,4})?$")
_THEME_KEYS = {"id", "names", "descriptions", "seeds", "examples", "parent"}
_TEXT_FIELDS = ("names", "descriptions")
_LIST_FIELDS = ("seeds", "examples")
#: What joins theme ids in a labelling cell (``sada themes sample``, ``fit``, ``score``, ``sada export``).
THEME_SEPARATOR = ";"


@dataclass(frozen=True)
class Theme:
    """One theme of a taxonomy.

    Attributes:
        id: Stable lower-case identifier used in labels and stored results, e.g. ``"billing"``.
        names: Display name per language (``ar``, ``fa``, ``en``, ...).
        descriptions: One line per language: what the theme covers.
        seeds: Short phrases per language that customers write about it.
        examples: Real customer texts per language that are about it.
        parent: The id of the theme it rolls up into, or None.
    """

    id: str
    names: dict[str, str]
    descriptions: dict[str, str] = field(default_factory=dict)
    seeds: dict[str, list[str]] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    parent: str | None = None

    def name(self, language: str = "en") -> str:
        """The theme's name in ``language``, else English, else any name it has."""
        return self.names.get(language) or self.names.get("en") or next(iter(self.names.values()))

    def texts(self) -> list[str]:
        """Every name, description, seed and example, in a fixed order (the zero-shot prototypes' texts)."""
        out = [*self.names.values(), *self.descriptions.values()]
        for by_language in (self.seeds, self.examples):
            for phrases in by_language.values():
                out.extend(phrases)
        return out

    def lexical_texts(self) -> list[tuple[str, str]]:
        """``(text, language)`` of the names, seeds and examples: the words customers use for the theme.

        English is left out when the theme has texts in another language (the items Sada reads are
        Arabic and Persian; English n-grams would only dilute the theme's lexical profile).

        >>> Theme("atm", {"ar": "الصراف", "en": "ATMs"}, seeds={"fa": ["خودپرداز خراب"]}).lexical_texts()
        [('الصراف', 'ar'), ('خودپرداز خراب', 'fa')]
        """
        out = [(self.names[lang], lang) for lang in self.names]
        for by_language in (self.seeds, self.examples):
            out.extend((text, lang) for lang, phrases in by_language.items() for text in phrases)
        out = [(text, lang) for text, lang in out if text and text.strip()]
        native = [(text, lang) for text, lang in out if lang != "en"]
        return native or out


@dataclass(frozen=True)
class Taxonomy:
    """The themes of one file, in file order, with a content version."""

    themes: tuple[Theme, ...]
    source: str

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.themes]

    def __getitem__(self, theme_id: str) -> Theme:
        for theme in self.themes:
            if theme.id == theme_id:
                return theme
        raise KeyError(theme_id)

    def name(self, theme_id: str, language: str = "en") -> str:
        """Display name of ``theme_id``; the id itself for a theme this taxonomy does not have."""
        try:
            return self[theme_id].name(language)
        except KeyError:
            return theme_id

    @property
    def version(self) -> str:
        """12 hex digits of the SHA-256 of the themes' content: equal files, equal versions."""
        canonical = json.dumps([asdict(t) for t in self.themes], ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def parse_theme_cell(cell: Any) -> list[str]:
    """The theme ids of a labelling cell, ids joined by ``;`` (spaces around an id ignored; empty or missing: none).

    Missing is ``None``, NaN (a spreadsheet's empty cell) or pandas' ``NA`` (an empty cell of a ``string``
    column).

    >>> parse_theme_cell("delivery; price ;"), parse_theme_cell(""), parse_theme_cell(None)
    (['delivery', 'price'], [], [])
    """
    if _is_missing(cell):
        return []
    return [tid for tid in (t.strip() for t in str(cell).split(THEME_SEPARATOR)) if tid]


def _is_missing(cell: Any) -> bool:
    """None, NaN or NaT (not equal to itself), or pandas' ``NA`` (whose comparisons have no truth value)."""
    if cell is None:
        return True
    try:
        return bool(cell != cell)
    except TypeError:  # pandas.NA: `NA != NA` is NA, and bool(NA) raises
        return True


def format_theme_cell(ids: Iterable[str]) -> str:
    """A labelling cell of theme ids, in the order given (the inverse of :func:`parse_theme_cell`).

    >>> format_theme_cell(["delivery", "price"]), format_theme_cell([])
    ('delivery;price', '')
    """
    return THEME_SEPARATOR.join(ids)


def default_taxonomy_path() -> Path:
    """The shipped default taxonomy."""
    return TAXONOMY_DIR / "default.yaml"


def pack_paths() -> dict[str, Path]:
    """The ready packs shipped beside the default, by name (``banking``, ``telecom``, ...)."""
    return {p.stem: p for p in sorted((TAXONOMY_DIR / "packs").glob("*.yaml"))}


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaxonomyError(f"expected a taxonomy file at {path}, found {exc.strerror or exc}; "
                            "check the path given to --themes or SADA_THEMES") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise TaxonomyError(f"expected valid YAML in {path}, found a syntax error{line} "
                            f"({getattr(exc, 'problem', None) or exc}); fix the file") from None


def _entry_problems(i: int, entry: Any, ids: list[str]) -> list[str]:
    where = f"theme #{i + 1}"
    if not isinstance(entry, dict):
        return [f"{where}: expected a mapping with id and names, found {entry!r:.60}; write `- id: ...` entries"]
    problems = []
    tid = entry.get("id")
    if not isinstance(tid, str) or not _ID_RE.match(tid):
        problems.append(f"{where}: expected an id of lower-case ASCII letters, digits and _ starting with a letter, "
                        f"found {tid!r}; e.g. `id: portion_size`")
    else:
        where = f"theme {tid!r}"
    unknown = sorted(set(entry) - _THEME_KEYS)
    if unknown:
        problems.append(f"{where}: expected only the keys {', '.join(sorted(_THEME_KEYS))}, found "
                        f"{', '.join(map(str, unknown))}; check the spelling")
    for key in _TEXT_FIELDS + _LIST_FIELDS:
        value = entry.get(key)
        if value is None:
            if key == "names":
                problems.append(f"{where}: expected names in at least one language, found none; "
                                "add e.g. `names: {ar: ..., fa: ..., en: ...}`")
            continue
        if not isinstance(value, dict) or not value:
            problems.append(f"{where}: expected {key} as a mapping of language codes (ar, fa, en) to "
                            f"{'text' if key in _TEXT_FIELDS else 'lists of phrases'}, found {value!r:.60}")
            continue
        for lang, text in value.items():
            if not isinstance(lang, str) or not _LANG_RE.match(lang):
                comma = text is None  # `{en: cards, limits}`: YAML reads `limits` as a key with no value
                problems.append(f"{where}: expected language codes such as ar, fa, en as keys of {key}, "
                                f"found {lang!r}" + ("; a comma inside { } starts a new key: put the text in "
                                                     "quotes, e.g. `en: \"cards, limits\"`" if comma else ""))
            elif key in _TEXT_FIELDS and (not isinstance(text, str) or not text.strip()):
                problems.append(f"{where}: expected a non-empty text for {key}.{lang}, found {text!r:.60}")
            elif key in _LIST_FIELDS and (not isinstance(text, list) or not all(
                    isinstance(s, str) and s.strip() for s in text)):
                problems.append(f"{where}: expected a list of non-empty phrases for {key}.{lang}, found {text!r:.60}; "
                                f"write `{lang}: [phrase one, phrase two]`")
    parent = entry.get("parent")
    if parent is not None and (parent == tid or parent not in ids):
        problems.append(f"{where}: expected parent to name another theme of the file, found {parent!r}; "
                        "add that theme or remove the parent")
    return problems


def taxonomy_problems(data: Any) -> list[str]:
    """Every problem of a parsed taxonomy file, one line each (expected, found, how to fix); [] when valid."""
    if not isinstance(data, dict) or not isinstance(data.get("themes"), list) or not data["themes"]:
        return [f"expected a top-level `themes:` list with at least one theme, found "
                f"{type(data).__name__ if not isinstance(data, dict) else sorted(data)}; "
                "start the file with `themes:` (see `sada themes check --help`)"]
    entries = data["themes"]
    ids = [e.get("id") for e in entries if isinstance(e, dict)]
    problems = [p for i, e in enumerate(entries) for p in _entry_problems(i, e, ids)]
    duplicates = sorted({str(t) for t in ids if ids.count(t) > 1})
    if duplicates:
        problems.append(f"expected unique theme ids, found {', '.join(duplicates)} more than once; "
                        "rename or merge them")
    parents = {e["id"]: e.get("parent") for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)}
    for tid, parent in parents.items():
        if parent is not None and parents.get(parent) is not None:
            problems.append(f"theme {tid!r}: expected at most two levels, found parent {parent!r} that has a "
                            f"parent itself; point {tid!r} at a top-level theme")
    return problems


def _theme(entry: dict[str, Any]) -> Theme:
    def texts(key: str) -> dict[str, str]:
        return {str(k): str(v).strip() for k, v in (entry.get(key) or {}).items()}

    def lists(key: str) -> dict[str, list[str]]:
        return {str(k): [str(s).strip() for s in v] for k, v in (entry.get(key) or {}).items()}

    return Theme(id=entry["id"], names=texts("names"), descriptions=texts("descriptions"), seeds=lists("seeds"),
                 examples=lists("examples"), parent=entry.get("parent"))


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The taxonomy in ``path``; None reads ``SADA_THEMES`` or else the shipped default.

    Raises:
        TaxonomyError: the file is missing, is not YAML, or breaks the layout (the message gives
            the first problem; ``sada themes check FILE`` lists them all).
    """
    if path is None:
        path = load_settings().themes
    source = "default" if path is None else str(path)
    file = default_taxonomy_path() if path is None else Path(path)
    data = _read(file)
    problems = taxonomy_problems(data)
    if problems:
        more = f" ({len(problems) - 1} more: run `sada themes check {file}`)" if len(problems) > 1 else ""
        raise TaxonomyError(f"{file}: {problems[0]}{more}")
    return Taxonomy(tuple(_theme(e) for e in data["themes"]), source)


def check_file(path: str | Path) -> list[str]:
    """Every problem of the taxonomy file at ``path`` (``sada themes check``); [] when it is valid.

    Raises:
        TaxonomyError: the file cannot be read or is not YAML.
    """
    return taxonomy_problems(_read(Path(path)))
