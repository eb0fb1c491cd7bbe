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


def test_first_use_from_several_threads_loads_one_encoder():
    """A request thread (prompt grounding) and the generator thread may ask first at the same moment."""
    import subprocess
    import sys

    code = """
import threading
from inference.text import get_text_encoder
got, errors = [], []
def ask():
    try:
        got.append(get_text_encoder())
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=ask) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
assert not errors, errors
assert len({id(e) for e in got}) == 1 and len(got) == 8
print("one encoder")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "one encoder" in out.stdout, out.stderr[-2000:]
