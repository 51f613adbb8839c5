"""TrainOptions: the checks that belong to the combination of options (the single options: test_train_options)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import save_file

from sada.cli import main
from sada.models.artifact_config import ArtifactConfig
from sada.models.classifier import DEFAULT_ARTIFACT
from sada.models.finetune import OVERLAY_FILE
from sada.models.model_card import EXAMPLE_CONFIG, model_card
from sada.models.train_driver import TrainOptions, recorded_choices
from sada.models.training import data_choices
from sada.pipeline.errors import InputError


def test_finetune_and_an_earlier_overlay_together_are_refused(tmp_path: Path) -> None:
    overlay = tmp_path / "encoder_top.safetensors"
    overlay.write_bytes(b"")
    with pytest.raises(InputError, match="expected --finetune or --overlay, found both"):
        TrainOptions(out=tmp_path / "model", finetune=True, overlay=overlay)
    assert TrainOptions(out=tmp_path / "model", overlay=overlay).overlay == overlay  # either alone is fine
    assert TrainOptions(out=tmp_path / "model", finetune=True).finetune


def _overlay(path: Path, key: str = "encoder.layer.11.output.dense.bias") -> Path:
    """A tiny safetensors file with one tensor named ``key``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({key: np.zeros(4, dtype=np.float16)}, str(path))
    return path


def test_finetune_from_an_artifact_folder_starts_from_its_layers(tmp_path: Path) -> None:
    options = TrainOptions(out=tmp_path / "model", finetune=True, finetune_from=DEFAULT_ARTIFACT)
    assert options.finetune_from == DEFAULT_ARTIFACT / OVERLAY_FILE  # the shipped model's fine-tuned layers
    own = _overlay(tmp_path / "mine" / OVERLAY_FILE)
    assert TrainOptions(out=tmp_path / "model", finetune=True, finetune_from=own).finetune_from == own


@pytest.mark.parametrize("case, message", [
    ("missing", "found no such file"),
    ("not_safetensors", "found a file that is not safetensors"),
    ("not_layers", "found tensors other than encoder layers"),
    ("other_base", "found layers of /elsewhere/bert"),
    ("without_finetune", "expected --finetune with --finetune-from"),
])
def test_finetune_from_what_it_cannot_start_from_is_refused(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / "old" / OVERLAY_FILE
    if case == "not_safetensors":
        path.parent.mkdir()
        path.write_text("not weights", encoding="utf-8")
    elif case == "not_layers":
        _overlay(path, "classifier.weight")
    elif case in ("other_base", "without_finetune"):
        _overlay(path)
        (path.parent / "config.json").write_text(json.dumps({"encoder": {"path": "/elsewhere/bert"}}), "utf-8")
    with pytest.raises(InputError, match=message):
        TrainOptions(out=tmp_path / "model", finetune=case != "without_finetune", finetune_from=path.parent)


def test_sada_train_finetune_from_parses_and_refuses_before_training(tmp_path: Path) -> None:
    out = tmp_path / "model"
    alone = CliRunner().invoke(main, ["train", "--out", str(out), "--finetune-from", str(DEFAULT_ARTIFACT)])
    assert alone.exit_code != 0 and "expected --finetune with --finetune-from" in alone.output, alone.output
    missing = CliRunner().invoke(main, ["train", "--out", str(out), "--finetune", "--finetune-from",
                                        str(tmp_path / "none.safetensors")])
    assert missing.exit_code != 0 and "found no such file" in missing.output, missing.output
    assert not out.exists()


def test_the_layers_continued_from_are_recorded_and_said(tmp_path: Path) -> None:
    path = DEFAULT_ARTIFACT / OVERLAY_FILE
    choices = data_choices(False, False, (), None, None, 1.0, path)
    assert choices.as_dict()["finetune_from"] == str(path)
    assert "finetune_from" not in data_choices(False, False, (), None, None).as_dict()  # absent from the base
    assert ArtifactConfig.from_json({"training_options": choices.as_dict()}).training_options == choices
    config = replace(EXAMPLE_CONFIG, encoder_overlay=OVERLAY_FILE, training_options=choices,
                     finetune={"top_layers": 12, "epochs": 1, "steps": 40, "seconds": 600.0,
                               "continued_from": {"file": OVERLAY_FILE, "steps": 2061}})
    card = model_card(config, {}, [])
    assert f"continuing from the fine-tuned layers `{path}` (themselves 2061 steps)" in card
    assert "finetune_from" not in recorded_choices(config)  # sada reproduce re-uses the layers, it does not tune
