"""The text encoder's cache: an answer never depends on what the cache evicted."""

import torch

from inference.text import TextEncoder


def test_eviction_never_drops_a_text_the_same_call_needs():
    encoder = TextEncoder(cache_size=2)
    first = encoder.encode([""]).pooled[0]
    # three new texts overflow the cache while "" (cached earliest) is needed again in the same call
    batch = encoder.encode(["", "left pleural effusion", "right pneumothorax", "cardiomegaly"]).pooled
    assert torch.equal(batch[0], first)
    assert len(encoder._cache) == 2
    again = encoder.encode(["right pneumothorax", "cardiomegaly", "right pneumothorax"]).pooled
    assert torch.equal(again[0], again[2]) and torch.equal(again[0], batch[2])
