"""What Sada reads from a Hugging Face checkpoint's ``config.json``, typed and validated: :class:`CheckpointConfig`.

The encoder (:mod:`sada.models.encoder`: positions, padding id) and the ONNX graph builder
(:mod:`sada.models.onnx_encoder`: the architecture) read the same file through this one object. Keys Sada
does not use are ignored; a missing key takes the Hugging Face default where there is one.

Example:
    >>> cfg = CheckpointConfig.from_json({"model_type": "bert", "hidden_size": 384, "pad_token_id": None})
    >>> cfg.model_type, cfg.hidden_size, cfg.pad_token_id, cfg.layer_norm_eps
    ('bert', 384, None, 1e-12)
    >>> CheckpointConfig.from_json({"hidden_size": "384"})
    Traceback (most recent call last):
    ...
    sada.models.checkpoint_config.CheckpointConfigError: expected a whole number for `hidden_size` in the checkpoint's config.json, found '384' (str); fix the checkpoint's config.json or point at another checkpoint
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from sada.pipeline.errors import ConfigError

__all__ = ["CheckpointConfig", "CheckpointConfigError"]


class CheckpointConfigError(ConfigError):
    """A checkpoint's config.json is not JSON, not an object, or has a key of the wrong type."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


#: How each kind of field is checked: (test, what was expected).
_KINDS = {
    "int": (_is_int, "a whole number"),
    "float": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
}


@dataclass(frozen=True)
class CheckpointConfig:
    """The keys of a checkpoint's config.json that Sada uses (None: the file does not have the key).

    Attributes:
        model_type: ``bert``, ``xlm-roberta``... (empty when missing).
        hidden_size / num_attention_heads / num_hidden_layers: The transformer's shape.
        max_position_embeddings: Rows of the position table (the most tokens a text may have).
        pad_token_id: Padding token id, or None.
        layer_norm_eps: LayerNorm epsilon.
        hidden_act: The feed-forward activation.
        position_embedding_type: ``absolute``, or a relative kind.
    """

    model_type: str = ""
    hidden_size: int | None = None
    num_attention_heads: int | None = None
    num_hidden_layers: int | None = None
    max_position_embeddings: int | None = None
    pad_token_id: int | None = None
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"
    position_embedding_type: str = "absolute"

    @classmethod
    def from_json(cls, source: str | Path | Mapping[str, Any]) -> "CheckpointConfig":
        """The config of a checkpoint directory, of its ``config.json`` file, or of an already parsed object.

        Raises:
            CheckpointConfigError: not JSON, not an object, or a used key of the wrong type.
            OSError: the file cannot be read.
        """
        if isinstance(source, (str, Path)):
            path = Path(source) / "config.json" if Path(source).is_dir() else Path(source)
            try:
                source = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise CheckpointConfigError(f"expected JSON in {path}, found {exc}; fix the file or point at "
                                            "another checkpoint") from None
        if not isinstance(source, Mapping):
            raise CheckpointConfigError(f"expected a JSON object in the checkpoint's config.json, found "
                                        f"{type(source).__name__}; point at a Hugging Face checkpoint")
        values = {}
        for f in fields(cls):
            value = source.get(f.name)
            if value is None:
                continue  # missing or null: the default (None for the keys without one)
            test, expected = _KINDS[str(f.type).split(" | ")[0]]
            if not test(value):
                raise CheckpointConfigError(
                    f"expected {expected} for `{f.name}` in the checkpoint's config.json, found {value!r} "
                    f"({type(value).__name__}); fix the checkpoint's config.json or point at another checkpoint")
            values[f.name] = value
        return cls(**values)
