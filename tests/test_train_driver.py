"""TrainOptions: the checks that belong to the combination of options (the single options: test_train_options)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sada.models.train_driver import TrainOptions
from sada.pipeline.errors import InputError


def test_finetune_and_an_earlier_overlay_together_are_refused(tmp_path: Path) -> None:
    overlay = tmp_path / "encoder_top.safetensors"
    overlay.write_bytes(b"")
    with pytest.raises(InputError, match="expected --finetune or --overlay, found both"):
        TrainOptions(out=tmp_path / "model", finetune=True, overlay=overlay)
    assert TrainOptions(out=tmp_path / "model", overlay=overlay).overlay == overlay  # either alone is fine
    assert TrainOptions(out=tmp_path / "model", finetune=True).finetune
