"""Reader model: shapes, targets from samples, and that it can learn (overfits a fixed batch)."""

import pytest

torch = pytest.importorskip("torch")

from inference.phantoms import reader, sample  # noqa: E402


def test_reader_shapes_and_targets():
    keys = reader.finding_keys("cxr")
    s = sample(12, "cxr", 64)
    p, m = reader.targets(s, keys)
    assert p.shape == (len(keys),) and m.shape == (len(keys), 64, 64)
    assert p.sum() == len({f.key for f in s.conditions.findings})
    model = reader.build("cxr")
    logits, seg = model(torch.zeros(2, 1, 64, 64))
    assert logits.shape == (2, len(keys)) and seg.shape == (2, len(keys), 64, 64)


def test_reader_learns_a_fixed_batch():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = reader.build("cxr", width=16)
    x, p, m = reader._batch("cxr", 64, range(8))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(20):
        loss = reader.loss_fn(model, x, p, m)
        first = first if first is not None else float(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.6 * first
