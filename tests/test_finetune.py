"""Fine-tuning that continues from an earlier overlay (issue 23: new sources on top of the shipped encoder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

from sada.corpus import sample_dir
from sada.models.finetune import OVERLAY_FILE, finetune_encoder, finetune_facts


def _tensors(path: Path) -> dict[str, np.ndarray]:
    with safe_open(str(path), framework="numpy") as f:
        return {k: f.get_tensor(k).astype(np.float32) for k in f.keys()}


@pytest.mark.slow
def test_finetune_continues_from_an_overlay(tmp_path: Path, cache: Path) -> None:
    """init_overlay starts from the given layers, not the base weights, and the facts say so."""
    common = dict(data_files=[], corpus=sample_dir(), seed=1, epochs=1, encoder_path=None, max_steps=1,
                  batch_size=8, top_layers=1, per_source_cap=40, cache_dir=cache)
    first = tmp_path / "first"
    _, _, info_first = finetune_encoder(out=first, lr=1e-3, **common)  # a large step: far from the base
    again = tmp_path / "again"
    # a vanishing learning rate: the continued layers must be the first run's, not the base encoder's
    _, _, info = finetune_encoder(out=again, lr=1e-12, init_overlay=first / OVERLAY_FILE, **common)
    start, end = _tensors(first / OVERLAY_FILE), _tensors(again / OVERLAY_FILE)
    assert start.keys() == end.keys() and all(k.startswith("encoder.layer.11.") for k in end)
    assert all(np.allclose(start[k], end[k], atol=1e-3) for k in end)
    fresh = tmp_path / "fresh"
    finetune_encoder(out=fresh, lr=1e-12, **common)  # the same run from the base weights ends elsewhere
    base = _tensors(fresh / OVERLAY_FILE)
    assert max(float(np.abs(base[k] - start[k]).max()) for k in end) > 1e-3
    assert info["continued_from"] == {"file": OVERLAY_FILE, **info_first}
    assert finetune_facts(again / OVERLAY_FILE) == info and "continued_from" not in info_first


@pytest.mark.slow
@pytest.mark.parametrize("key, shape", [("encoder.layer.11.output.dense.bias", (4,)), ("encoder.layer.40.x", (4,))])
def test_layers_of_another_encoder_are_refused_before_training(tmp_path: Path, cache: Path, key: str,
                                                               shape: tuple[int, ...]) -> None:
    """Layers whose names or shapes the base encoder does not have: an InputError before any step."""
    from safetensors.numpy import save_file

    from sada.pipeline.errors import InputError

    other = tmp_path / OVERLAY_FILE
    save_file({key: np.zeros(shape, dtype=np.float16)}, str(other))
    with pytest.raises(InputError, match="expected layers fine-tuned from the base encoder .* --encoder"):
        finetune_encoder(data_files=[], corpus=sample_dir(), seed=1, epochs=1, encoder_path=None, max_steps=1,
                         batch_size=8, top_layers=1, per_source_cap=40, cache_dir=cache, out=tmp_path / "out",
                         init_overlay=other)
    assert not (tmp_path / "out").exists()
