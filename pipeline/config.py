"""Settings, read from ``SADA_*`` environment variables (pydantic-settings).

Every field can also be given on the command line; the CLI passes overrides to
:func:`load_settings`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sada.pipeline.errors import ConfigError

__all__ = ["Settings", "load_settings", "default_cache_dir", "default_home_dir"]

def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sada`` or ``~/.cache/sada``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sada"


def default_home_dir() -> Path:
    """``~/.sada``: state that must outlive a run and stay out of the store (the local Prefect
    server's database and logs, secrets such as the pseudonym key)."""
    return Path.home() / ".sada"


class Settings(BaseSettings):
    """Sada's configuration. Each field maps to ``SADA_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SADA_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///sada.sqlite",
        description="SQLAlchemy URL of the results store (SQLite file or PostgreSQL).",
    )
    max_text_length: int = Field(default=5000, gt=0, description="Longer texts are quarantined.")
    mask_pii: bool = Field(default=True, description="Mask URLs, e-mails, phones and card numbers.")
    corpus_dir: Path | None = Field(
        default=None,
        description="Another copy of the sample corpus for the research commands (SADA_CORPUS_DIR); the product "
                    "never reads a corpus unless a command is handed one.",
    )
    cache_dir: Path = Field(default_factory=default_cache_dir)
    home: Path = Field(default_factory=default_home_dir, description="Sada's own state (SADA_HOME).")
    themes: Path | None = Field(default=None, description="Theme taxonomy file (SADA_THEMES); None: the shipped one.")
    batch_size: int = Field(default=512, gt=0, description="Rows per processing batch.")
    date_dayfirst: bool = Field(default=True, description="Read 03/04/2025 as 3 April.")

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"expected a sqlite:/// or postgresql:// URL, found {value!r}; "
                "set SADA_DATABASE_URL or --db"
            )
        return value


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment with non-None ``overrides`` on top.

    Raises:
        ConfigError: a value is invalid; the message names the variable.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "SADA_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise ConfigError(f"invalid {name}: {first['msg']}") from None
