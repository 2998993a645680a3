"""The torch model behind the intent and sentiment classifiers: a transformer encoder, mean pooling, a linear head."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from intents.embeddings import bundled_minilm_path

HEAD_FILE = "head.safetensors"


def load_tokenizer(path: Path | str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


class EncoderWithHead(nn.Module):
    def __init__(self, encoder: nn.Module, hidden_size: int, num_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, num_labels)

    @classmethod
    def from_base(cls, base: Path | str | None, num_labels: int, device: str = "cpu") -> EncoderWithHead:
        """A new classifier on a pretrained encoder (default: the bundled MiniLM); never downloads."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel

        location = str(base) if base else str(bundled_minilm_path())
        encoder = AutoModel.from_pretrained(location, local_files_only=True)
        return cls(encoder, int(encoder.config.hidden_size), num_labels).to(device)

    @classmethod
    def load(cls, directory: Path, *, num_labels: int, device: str = "cpu") -> EncoderWithHead:
        from safetensors.torch import load_file

        model = cls.from_base(directory / "encoder", num_labels, device)
        model.head.load_state_dict(load_file(str(directory / HEAD_FILE), device=device))
        return model.eval()

    def save(self, directory: Path) -> None:
        from safetensors.torch import save_file

        self.encoder.save_pretrained(str(directory / "encoder"))  # type: ignore[operator]
        save_file({k: v.contiguous() for k, v in self.head.state_dict().items()}, str(directory / HEAD_FILE))

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden: torch.Tensor = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(input_ids, attention_mask)))  # type: ignore[no-any-return]


def batched_logits(
    model: nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    num_labels: int,
    max_length: int,
    device: str,
    batch_size: int = 64,
) -> npt.NDArray[np.float32]:
    """The head's logits for `texts`, computed in batches without gradients (rows in text order)."""
    outputs = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            ).to(device)
            outputs.append(model(batch["input_ids"], batch["attention_mask"]).float().cpu().numpy())
    if not outputs:
        return np.zeros((0, num_labels), dtype=np.float32)
    return np.concatenate(outputs).astype(np.float32)
