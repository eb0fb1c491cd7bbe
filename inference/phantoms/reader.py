"""Reader models: small CNNs trained on phantoms only, used to judge generated images.

A reader takes a model-ready image (`Sample.image`, 1 or 3 channels) and predicts, per finding of the
vocabulary, whether it is present (multi-label logits) and where (a per-finding mask logit map).
Agreement with the conditions and Dice against the condition masks are the two scores a generator is
judged by. Trained from `sample()` streams; nothing external.

    python -m inference.phantoms reader train --modality cxr --size 64 --steps 600 --out runs/reader_cxr.pt
    python -m inference.phantoms reader eval --weights runs/reader_cxr.pt --count 200
"""

from __future__ import annotations

import time

import numpy as np

from ..vocabulary import FINDINGS


def finding_keys(modality: str) -> list[str]:
    return [k for k, v in FINDINGS.items() if modality in v.modalities]


def targets(s, keys: list[str]):
    """(presence vector, mask stack) for one sample; masks are the union over lateralities."""
    size = s.image.shape[0]
    present = np.zeros(len(keys), np.float32)
    masks = np.zeros((len(keys), size, size), np.float32)
    for f in s.conditions.findings:
        i = keys.index(f.key)
        present[i] = 1.0
        m = s.masks.get(f"{f.key}:{f.laterality}")
        if m is not None:
            masks[i] = np.maximum(masks[i], m)
    return present, masks


def build(modality: str, width: int = 32):
    import torch
    from torch import nn

    keys = finding_keys(modality)
    cin = 3 if modality == "lap" else 1

    def block(a, b):
        return nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.GroupNorm(8, b), nn.SiLU(),
                             nn.Conv2d(b, b, 3, padding=1), nn.GroupNorm(8, b), nn.SiLU())

    class Reader(nn.Module):
        def __init__(self):
            super().__init__()
            w = width
            self.keys = keys
            self.modality = modality
            self.e1, self.e2, self.e3 = block(cin, w), block(w, 2 * w), block(2 * w, 4 * w)
            self.pool = nn.MaxPool2d(2)
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.d2 = block(4 * w + 2 * w, 2 * w)
            self.d1 = block(2 * w + w, w)
            self.seg = nn.Conv2d(w, len(keys), 1)
            self.cls = nn.Linear(4 * w, len(keys))

        def forward(self, x):
            a = self.e1(x)
            b = self.e2(self.pool(a))
            c = self.e3(self.pool(b))
            logits = self.cls(c.mean((2, 3)))
            d = self.d2(torch.cat([self.up(c), b], 1))
            d = self.d1(torch.cat([self.up(d), a], 1))
            return logits, self.seg(d)

    return Reader()


def _batch(modality, size, seeds):
    import torch

    from . import sample

    keys = finding_keys(modality)
    xs, ps, ms = [], [], []
    for sd in seeds:
        s = sample(int(sd), modality, size)
        img = s.image if s.image.ndim == 3 else s.image[..., None]
        xs.append(np.moveaxis(img, -1, 0))
        p, m = targets(s, keys)
        ps.append(p)
        ms.append(m)
    return (torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ps)), torch.from_numpy(np.stack(ms)))


def loss_fn(model, x, p, m):
    import torch.nn.functional as F

    logits, seg = model(x)
    l_cls = F.binary_cross_entropy_with_logits(logits, p)
    # segmentation only where the finding is present (its mask is the target)
    w = p[:, :, None, None].expand_as(seg)
    l_seg = (F.binary_cross_entropy_with_logits(seg, m, reduction="none") * w).sum() / w.sum().clamp(min=1.0)
    return l_cls + l_seg


def train(modality: str = "cxr", size: int = 64, steps: int = 600, batch: int = 16, lr: float = 2e-3,
          seed0: int = 10_000_000, out: str | None = None, log_every: int = 50):
    import torch

    torch.manual_seed(0)
    model = build(modality)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    t0 = time.time()
    for step in range(steps):
        seeds = range(seed0 + step * batch, seed0 + (step + 1) * batch)
        x, p, m = _batch(modality, size, seeds)
        loss = loss_fn(model, x, p, m)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"step {step:5d} loss {loss.item():.4f} ({time.time() - t0:.0f} s)", flush=True)
    if out:
        from pathlib import Path

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        torch.save({"modality": modality, "size": size, "state": model.state_dict(), "keys": model.keys}, out)
    return model


def evaluate(model, size: int = 64, count: int = 200, seed0: int = 20_000_000) -> dict:
    """Reader scores on held-out phantoms: presence accuracy (exact set match) and mean Dice."""
    import torch

    model.eval()
    exact, dices = 0, []
    with torch.no_grad():
        for i in range(0, count, 16):
            seeds = range(seed0 + i, seed0 + min(count, i + 16))
            x, p, m = _batch(model.modality, size, seeds)
            logits, seg = model(x)
            pred = (logits > 0).float()
            exact += int((pred == p).all(1).sum())
            pm = seg > 0
            for b in range(len(p)):
                for k in np.nonzero(p[b].numpy())[0]:
                    a, t = pm[b, k].numpy(), m[b, k].numpy() > 0.5
                    if t.sum() == 0:
                        continue
                    dices.append(2 * (a & t).sum() / (a.sum() + t.sum()))
    return {"exact_match": exact / count, "dice": float(np.mean(dices)) if dices else float("nan"), "n": count}


def load(path: str):
    import torch

    ck = torch.load(path, map_location="cpu", weights_only=True)
    model = build(ck["modality"])
    model.load_state_dict(ck["state"])
    model.eval()
    return model, ck["size"]
