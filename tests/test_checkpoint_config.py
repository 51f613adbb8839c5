"""A checkpoint's config.json, read once through CheckpointConfig by the encoder and the ONNX graph builder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sada.models.checkpoint_config import CheckpointConfig, CheckpointConfigError
from sada.models.onnx_encoder import GraphSpec, graph_spec
from sada.pipeline.errors import ConfigError


def test_the_default_encoders_config_gives_its_graph(e5_dir: Path) -> None:
    config = CheckpointConfig.from_json(e5_dir)
    raw = json.loads((e5_dir / "config.json").read_text(encoding="utf-8"))
    assert (config.model_type, config.hidden_size, config.num_hidden_layers) == ("bert", 384, 12)
    assert config.max_position_embeddings == raw["max_position_embeddings"] and config.pad_token_id == raw["pad_token_id"]
    assert graph_spec(e5_dir) == GraphSpec("bert", 384, config.num_attention_heads, 12, raw["layer_norm_eps"],
                                           "absolute", raw["pad_token_id"], raw["max_position_embeddings"])


def _checkpoint(tmp_path: Path, **config: object) -> Path:
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes(b"")
    return tmp_path


def test_missing_keys_take_the_defaults_and_an_unknown_shape_gets_no_graph(tmp_path: Path) -> None:
    config = CheckpointConfig.from_json({"model_type": "bert", "pad_token_id": None})
    assert (config.layer_norm_eps, config.hidden_act, config.pad_token_id) == (1e-12, "gelu", None)
    assert graph_spec(_checkpoint(tmp_path, model_type="bert")) is None  # no shape: the torch path, not a KeyError
    assert graph_spec(_checkpoint(tmp_path, model_type="bert", hidden_size=8, num_attention_heads=2,
                                  num_hidden_layers=1, max_position_embeddings=16, hidden_act="relu")) is None


def test_a_wrong_type_says_expected_found_and_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(CheckpointConfigError) as info:
        graph_spec(_checkpoint(tmp_path, model_type="bert", hidden_size="384"))
    assert "expected a whole number for `hidden_size`" in str(info.value) and "'384' (str)" in str(info.value)
    assert isinstance(info.value, ConfigError)
    (tmp_path / "config.json").write_text("{", encoding="utf-8")
    with pytest.raises(CheckpointConfigError, match="expected JSON in"):
        CheckpointConfig.from_json(tmp_path)
