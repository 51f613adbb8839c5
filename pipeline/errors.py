"""Sada's exceptions: one base class, subclasses that are also built-in errors.

Every message says what was expected, what was found and how to fix it, so the
CLI can print it as a one-line error instead of a traceback.
"""

from __future__ import annotations

__all__ = [
    "SadaError",
    "InputError",
    "ColumnMappingError",
    "DuplicateColumnError",
    "UnsupportedFormatError",
    "ConfigError",
    "ModelNotFoundError",
    "CorpusError",
    "TaxonomyError",
]


class SadaError(Exception):
    """Base class of every error Sada raises on purpose."""


class InputError(SadaError, ValueError):
    """An input file or value cannot be used as given."""


class ColumnMappingError(SadaError, LookupError):
    """A required column is missing or a mapping names a column that does not exist."""


class DuplicateColumnError(ColumnMappingError):
    """A file's header names a column Sada needs more than once."""


class UnsupportedFormatError(InputError):
    """A file's format is not one Sada reads."""


class ConfigError(SadaError, ValueError):
    """A setting has a value Sada cannot use."""


class ModelNotFoundError(SadaError, LookupError):
    """A configured model or encoder path is missing or incomplete."""


class CorpusError(SadaError, LookupError):
    """The sample corpus is missing or malformed."""


class TaxonomyError(InputError):
    """A theme taxonomy file is missing, is not YAML, or breaks the layout."""
