"""Reader models: small CNNs trained on phantoms only, used to judge generated images.

A reader takes a model-ready image (`Sample.image`, 1 or 3 channels) and says, per label, whether a finding
is present on a side (`nodule:left`, `nodule:right`, `cardiomegaly`, ...) and where: one mask logit map per
finding. The generator is judged by both (agreement with the conditions, Dice against the condition masks).
It never sees the generator's weights or its training seeds.

    python -m inference.phantoms reader train --modality cxr --size 64 --count 24000 --epochs 8 \\
        --out inference/weights/reader-cxr-64.safetensors
    python -m inference.phantoms reader operating-points --weights inference/weights/reader-cxr-64.safetensors
    python -m inference.phantoms reader eval --weights inference/weights/reader-cxr-64.safetensors --count 2000

This module holds the network, the labels and the scores; it imports no Django.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..conditions import ConditionError, Conditions
from ..vocabulary import FINDINGS, SEVERITIES

TRAIN_SEED0 = 10_000_000  # readers train on seeds from here ...
HELDOUT_SEED0 = 20_000_000  # ... and are scored on seeds from here; the DiT recipes use neither range
# Operating points are chosen on seeds of their own, so that the held-out figures stay held out (evaluation
# uses 30M / 40M, the conspicuity study 50M).
CALIBRATION_SEED0 = 60_000_000
# Masks smaller than this many pixels are below the pixel pitch (a 5 mm nodule is under one pixel at 64 px):
# their Dice is reported separately and kept out of the lesion-Dice headline.
MIN_DICE_PIXELS = 8
# A finding is labelled present in an image only when its mask there has at least this many pixels: a CT slice
# or a laparoscopy frame can miss a finding altogether, a radiograph projects everything. (Labelling only
# radiograph nodules of 6 px or more was tried and did not make the 64 px reader call nodules: docs/READERS.md.)
VISIBLE_PIXELS = {"cxr": 0, "ct": 1, "lap": 1}
# The small findings the readers miss most. `train(enrich=p)` adds one of them to a share p of the training
# phantoms (`api.training_conditions`; the held-out and calibration phantoms are `sample()` as they are), so
# that the reader sees more of what it finds hardest.
ENRICHED_FINDINGS = {"cxr": ("nodule", "rib_fracture", "mass"), "ct": ("nodule", "rib_fracture", "pulmonary_embolism")}


def finding_keys(modality: str) -> list[str]:
    return [k for k, v in FINDINGS.items() if modality in v.modalities]


def _sided(key: str) -> bool:
    """A finding the reader must place on a side (bilateral ones turn both sides on)."""
    lats = set(FINDINGS[key].lateralities)
    return bool(lats & {"left", "right"})


def label_names(modality: str) -> list[str]:
    out = []
    for k in finding_keys(modality):
        out += [f"{k}:left", f"{k}:right"] if _sided(k) else [k]
    return out


def label_columns(modality: str) -> dict[str, list[int]]:
    """Finding key -> the indices of its labels (one, or left and right)."""
    cols: dict[str, list[int]] = {}
    for i, name in enumerate(label_names(modality)):
        cols.setdefault(name.split(":")[0], []).append(i)
    return cols


def channels_first(image: np.ndarray) -> np.ndarray:
    """(s, s) or (s, s, 3) -> (channels, s, s), same dtype."""
    return np.moveaxis(image if image.ndim == 3 else image[..., None], -1, 0)


def as_input(image: np.ndarray) -> np.ndarray:
    """A model-ready image, (s, s) or (s, s, 3), as the reader's (channels, s, s) float32 input."""
    return channels_first(image).astype(np.float32)


def labels_for(conditions: Conditions, modality: str, masks: dict | None = None, min_pixels: int = 1) -> np.ndarray:
    """The 0/1 label vector a perfect reader would print for these conditions.

    Without `masks`: what was asked for (how the generator is judged). With the image's `masks`: what is
    visible, i.e. findings whose mask has at least `min_pixels` pixels (findings without a mask count as seen).
    """
    names = label_names(modality)
    y = np.zeros(len(names), np.float32)
    for f in conditions.findings:
        if masks is not None:
            m = masks.get(f"{f.key}:{f.laterality}")
            if m is not None and int(np.count_nonzero(m)) < min_pixels:
                continue
        if not _sided(f.key):
            y[names.index(f.key)] = 1.0
            continue
        sides = ("left", "right") if f.laterality == "bilateral" else (f.laterality,)
        for side in sides:
            y[names.index(f"{f.key}:{side}")] = 1.0
    return y


def masks_for(masks: dict, conditions: Conditions, modality: str, size: int) -> np.ndarray:
    """(findings, size, size) target masks: one per finding key, the union over its lateralities."""
    keys = finding_keys(modality)
    out = np.zeros((len(keys), size, size), np.float32)
    for f in conditions.findings:
        m = masks.get(f"{f.key}:{f.laterality}")
        if m is not None:
            i = keys.index(f.key)
            out[i] = np.maximum(out[i], m)
    return out


BASE_SIZE = 64  # the U-Net works at this size; larger inputs enter through a patch embedding
READOUTS = ("encoder", "encoder+decoder")  # where labels are read from; cards without one are "encoder"
DEFAULT_READOUT = "encoder+decoder"


def build(modality: str, width: int = 16, size: int = BASE_SIZE, readout: str = DEFAULT_READOUT):
    """A 4-level U-Net: segmentation from the decoder, labels from side-pooled features: the encoder's
    deepest two levels, and with `readout="encoder+decoder"` also the decoder's full-resolution output, where
    a finding of a few pixels (a nodule, a clot) is still a few cells rather than a fraction of one. Readers
    saved before the decoder readout existed load as `"encoder"`.

    Above 64 px the image enters through a patch embedding (a stride-f convolution, f = size / 64) and the
    masks leave through a sub-pixel head, so the U-Net still runs at 64 px: a 256 px reader sees every pixel
    (a rib's break, a 5 mm nodule) at about the cost of a 64 px one.
    """
    import torch
    import torch.nn.functional as F
    from torch import nn

    keys = finding_keys(modality)
    names = label_names(modality)
    cin = 3 if modality == "lap" else 1
    if size < BASE_SIZE or size % BASE_SIZE or (size // BASE_SIZE) & (size // BASE_SIZE - 1):
        raise ValueError(f"reader size {size!r} must be 64 times a power of two")
    patch = size // BASE_SIZE
    if readout not in READOUTS:
        raise ValueError(f"reader readout {readout!r} must be one of {READOUTS}")
    reads_decoder = readout == "encoder+decoder"

    def block(a, b):
        return nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.GroupNorm(8, b), nn.SiLU(),
                             nn.Conv2d(b, b, 3, padding=1), nn.GroupNorm(8, b), nn.SiLU())

    def side_pool(x):
        # left / right image halves and the whole image, mean and max: laterality survives pooling
        h = x.shape[-1] // 2
        parts = (x[..., :h], x[..., h:], x)
        return torch.cat([t.mean((2, 3)) for t in parts] + [t.amax((2, 3)) for t in parts], 1)

    class Reader(nn.Module):
        def __init__(self):
            super().__init__()
            w = width
            self.modality, self.keys, self.labels, self.width, self.size = modality, keys, names, width, size
            self.readout = readout
            self.patch = patch
            if patch > 1:
                self.embed = nn.Conv2d(cin, 2 * w, patch, stride=patch)
            self.e1 = block(2 * w if patch > 1 else cin, w)
            self.e2, self.e3, self.e4 = block(w, 2 * w), block(2 * w, 4 * w), block(4 * w, 8 * w)
            self.pool = nn.MaxPool2d(2)
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.d3 = block(8 * w + 4 * w, 4 * w)
            self.d2 = block(4 * w + 2 * w, 2 * w)
            self.d1 = block(2 * w + w, w)
            # above 64 px: patch * patch mask logits per finding and 64 px cell, from the decoder and the patch
            # embedding, shuffled back to full resolution
            top = w + 2 * w if patch > 1 else w  # decoder output channels (with the patch embedding above 64 px)
            self.seg = nn.Conv2d(top, len(keys) * patch * patch, 1)
            pooled = 8 * w + 4 * w + (top if reads_decoder else 0)
            self.cls = nn.Sequential(nn.Linear(6 * pooled, 256), nn.SiLU(), nn.Linear(256, len(names)))

        def forward(self, x, pairs=None):
            """(label logits, mask logits). `pairs` = (image indices, finding indices): only those masks,
            as (pairs, size, size), which is what training needs (most of the 12 maps of an image are empty)."""
            e = self.embed(x) if self.patch > 1 else x
            a = self.e1(e)
            b = self.e2(self.pool(a))
            c = self.e3(self.pool(b))
            d = self.e4(self.pool(c))
            u = self.d3(torch.cat([self.up(d), c], 1))
            u = self.d2(torch.cat([self.up(u), b], 1))
            u = self.d1(torch.cat([self.up(u), a], 1))
            if self.patch > 1:
                u = torch.cat([u, e], 1)
            pooled = [side_pool(d), side_pool(c)] + ([side_pool(u)] if reads_decoder else [])
            logits = self.cls(torch.cat(pooled, 1))
            if pairs is None:
                return logits, F.pixel_shuffle(self.seg(u), self.patch)
            images, findings = pairs
            n_keys, cells = len(self.keys), self.patch * self.patch
            weight = self.seg.weight.view(n_keys, cells, -1)[findings]  # (pairs, cells, channels)
            bias = self.seg.bias.view(n_keys, cells)[findings]
            m = torch.bmm(weight, u[images].flatten(2)) + bias[..., None]  # (pairs, cells, 64 * 64)
            m = m.view(len(images), cells, *u.shape[-2:])
            return logits, F.pixel_shuffle(m, self.patch)[:, 0]

    return Reader()


# ---- data -------------------------------------------------------------------------------------------------

@dataclass
class Batch:
    """Rendered phantoms, stored compactly: 18,000 radiographs at 256 px take 4.1 GB as native pixels and
    packed masks, 18.9 GB as float32 images and byte masks."""
    modality: str
    pixels: np.ndarray  # (n, c, size, size) native pixels: uint16 12-bit (cxr), int16 HU (ct), uint8 RGB (lap)
    y: np.ndarray  # (n, labels) float32
    packed_masks: np.ndarray  # (n, findings, size, size / 8) np.packbits of the finding masks
    conditions: list

    def __len__(self) -> int:
        return len(self.pixels)

    def images(self, index=slice(None)) -> np.ndarray:
        """Model-ready float32 images (n, c, size, size), exactly `Sample.image` of each phantom."""
        from . import image_from_pixels

        return image_from_pixels(self.pixels[index], self.modality)

    def masks(self, index=slice(None)) -> np.ndarray:
        """(n, findings, size, size) uint8 target masks; index (image, finding) gives one (size, size) mask."""
        return np.unpackbits(self.packed_masks[index], axis=-1)


def _render_range(args):
    from . import render
    from .api import training_conditions

    modality, size, start, count, enrich, findings = args
    ps, ys, ms, cs = [], [], [], []
    for seed in range(start, start + count):
        s = render(training_conditions(seed, modality, enrich, findings), seed=seed, size=size)
        ps.append(channels_first(s.pixels))
        ys.append(labels_for(s.conditions, modality, s.masks, VISIBLE_PIXELS[modality]))
        ms.append(np.packbits(masks_for(s.masks, s.conditions, modality, size).astype(np.uint8), axis=-1))
        cs.append(s.conditions)
    return np.stack(ps), np.stack(ys), np.stack(ms), cs


def render_set(modality: str, size: int, start: int, count: int, workers: int = 1, progress: bool = True,
               enrich: float = 0.0, findings: tuple[str, ...] | None = None) -> Batch:
    """Render `count` phantoms from seed `start` on, in `workers` processes, in seed order (`enrich`,
    `findings`: `api.training_conditions`; `findings` defaults to the reader's `ENRICHED_FINDINGS`, a
    generator's training stream replays with its own)."""
    from .api import check_enrichment

    if findings is None:
        if enrich and modality not in ENRICHED_FINDINGS:
            raise ConditionError(f"--enrich has no findings to add for modality {modality!r}")
        findings = ENRICHED_FINDINGS.get(modality, ())
    findings = tuple(findings)
    check_enrichment(modality, enrich, findings, name="--enrich")
    chunk = 250
    jobs = [(modality, size, s, min(chunk, start + count - s), enrich, findings)
            for s in range(start, start + count, chunk)]
    if workers > 1:
        import multiprocessing as mp

        pool = mp.get_context("fork").Pool(workers)
        results = pool.imap(_render_range, jobs)
    else:
        pool, results = None, map(_render_range, jobs)
    parts = []
    try:
        from tqdm import tqdm

        for r in tqdm(results, total=len(jobs), desc=f"render {modality} {size}px", unit="x250",
                      disable=not progress):
            parts.append(r)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return Batch(modality, np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                 np.concatenate([p[2] for p in parts]), [c for p in parts for c in p[3]])


# ---- training ---------------------------------------------------------------------------------------------

def loss_fn(model, x, y, m):
    import torch
    import torch.nn.functional as F

    # only drawn findings teach the segmenter, and only their maps are computed
    pairs = torch.nonzero(m.flatten(2).amax(-1) > 0, as_tuple=True)
    logits, seg = model(x, pairs)
    l_cls = F.binary_cross_entropy_with_logits(logits.float(), y)
    if not len(pairs[0]):
        return l_cls
    seg, m = seg.float(), m[pairs]  # (drawn masks, size, size)
    l_bce = F.binary_cross_entropy_with_logits(seg, m)
    p = torch.sigmoid(seg)
    inter = (p * m).flatten(1).sum(-1)
    denom = (p + m).flatten(1).sum(-1)
    l_dice = (1 - (2 * inter + 1) / (denom + 1)).mean()
    return l_cls + l_bce + l_dice


def train(modality: str = "cxr", size: int = 64, count: int = 24000, epochs: int = 8, batch: int = 32,
          lr: float = 2e-3, width: int = 16, workers: int = 2, threads: int = 2, out: str | None = None,
          seed0: int = TRAIN_SEED0, bf16: bool = True, log_every: int = 100, readout: str = DEFAULT_READOUT,
          enrich: float = 0.0):
    import torch

    from ..precision import autocast, training_dtype

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    precision = training_dtype("cpu", bf16)  # bf16 only where native: emulated bf16 is slower than fp32
    data = render_set(modality, size, seed0, count, workers, enrich=enrich)
    model = build(modality, width, size, readout)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (count // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    rng = np.random.default_rng(0)
    t0, step = time.time(), 0
    from tqdm import tqdm

    bar = tqdm(total=steps, desc=f"reader {modality}", unit="step")
    model.train()
    for _epoch in range(epochs):
        order = torch.from_numpy(rng.permutation(count))
        for i in range(count // batch):
            idx = order[i * batch:(i + 1) * batch].numpy()
            x = torch.from_numpy(data.images(idx))
            y, m = torch.from_numpy(data.y[idx]), torch.from_numpy(data.masks(idx)).float()
            if modality == "lap" and rng.random() < 0.5:  # chest laterality is tied to image sides: never flip it
                x, m = x.flip(-2), m.flip(-2)
            with autocast("cpu", precision):
                loss = loss_fn(model, x, y, m)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            bar.update(1)
            if log_every and step % log_every == 0:
                bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    model.eval()
    model.train_info = {"train_images": count, "epochs": epochs, "steps": steps, "batch": batch,
                        "train_seconds": round(time.time() - t0), "train_seeds": [seed0, seed0 + count]}
    if enrich > 0:
        model.train_info["enriched"] = {"share": enrich, "findings": list(ENRICHED_FINDINGS[modality])}
    if out:
        save(model, size, out)
    return model


# ---- scoring ----------------------------------------------------------------------------------------------

def predict(model, x: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(label probabilities (n, labels), finding masks (n, findings, size, size) bool) for images (n, c, s, s)."""
    import torch

    model.eval()
    probs, masks = [], []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits, seg = model(torch.from_numpy(np.ascontiguousarray(x[i:i + batch], np.float32)))
            probs.append(torch.sigmoid(logits).numpy())
            masks.append((seg > 0).numpy())
    return np.concatenate(probs), np.concatenate(masks)


# The patient's right is on the image's left (radiological convention, anatomy.py): the columns of a side.
_SIDE_HALF = {"right": 0, "left": 1}
DEFAULT_THRESHOLD = 0.5
THRESHOLD_GRID = tuple(np.round(np.concatenate([np.geomspace(0.002, 0.1, 20), np.linspace(0.12, 0.9, 27)]), 4))
MIN_AREA_GRID = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
# The segmenter's area rule is kept only where it beats the threshold alone by this much balanced accuracy on
# the calibration set: a second rule is not taken for a gain within that set's noise.
AREA_RULE_MARGIN = 0.005


def on_side(mask: np.ndarray, side: str) -> np.ndarray:
    """A (..., s, s) mask with only the image half of the patient's `side` kept."""
    first_half = np.arange(mask.shape[-1]) < mask.shape[-1] // 2
    return mask & (first_half if _SIDE_HALF[side] == 0 else ~first_half)


def label_mask(masks: np.ndarray, name: str, keys: list[str]) -> np.ndarray:
    """The segmenter's (..., s, s) mask behind a label: its finding's map from (..., findings, s, s) `masks`
    (in `keys` order), cut to the label's own half of the image when it has a side ("nodule:left")."""
    key, _, side = name.partition(":")
    mask = masks[..., keys.index(key), :, :]
    return on_side(mask, side) if side else mask


def label_areas(masks: np.ndarray, modality: str) -> np.ndarray:
    """(n, labels) pixels the segmenter draws for each label: a sided label counts its own half of the image."""
    keys = finding_keys(modality)
    return np.stack([label_mask(masks, name, keys).sum((-1, -2), dtype=np.int64)
                     for name in label_names(modality)], 1)


def decide(model, probs: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """(n, labels) bool: the reader's call per label at its operating points.

    A finding's label fires when its probability passes the finding's threshold, or, where calibration found
    it better, when the segmenter draws at least `min_area` pixels of it on that side. A reader without
    operating points (trained before them) calls at probability 0.5.
    """
    points = getattr(model, "operating_points", None) or {}
    calls = np.zeros(probs.shape, bool)
    areas = None
    for key, cols in label_columns(model.modality).items():
        point = points.get(key, {})
        calls[:, cols] = probs[:, cols] > point.get("threshold", DEFAULT_THRESHOLD)
        if point.get("min_area"):
            areas = label_areas(masks, model.modality) if areas is None else areas
            calls[:, cols] |= areas[:, cols] >= point["min_area"]
    return calls


def finding_agrees(called: np.ndarray, asked: np.ndarray, cols: list[int]) -> bool:
    """One image's conditioned finding is seen when each of its labels `cols` is called as asked: a left
    nodule called on the right, or a bilateral effusion called on one side, is not."""
    return bool((called[cols] == asked[cols]).all())


def finding_found(calls: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(n,) bool: the finding is present and every side of it is called right (a left nodule called on the
    right is not found)."""
    return (calls == truth).all(1) & truth.any(1)


def rates_by_severity(hits, severities: list) -> dict:
    """{severity: (n, share of hits)} over the entries that have a severity (None: not counted), in the
    vocabulary's order. The reader's sensitivity and the generator's agreement are both split by it."""
    hits = np.asarray(hits, bool)
    out = {}
    for sev in SEVERITIES:
        rows = [i for i, s in enumerate(severities) if s == sev]
        if rows:
            out[sev] = (len(rows), round(float(hits[rows].mean()), 4))
    return out


def sensitivity_by_severity(found: np.ndarray, severities: list) -> dict:
    """{severity: {"n", "sensitivity"}} over the images where the finding is present (`severities[i]`, None
    where it is absent): tells a reader that misses only the mild cases from one that misses them all."""
    return {sev: {"n": n, "sensitivity": rate} for sev, (n, rate) in rates_by_severity(found, severities).items()}


def _severities(conditions: list, key: str, present: np.ndarray) -> list:
    """The conditioned severity of `key` in each image where its label is present, else None."""
    return [next((f.severity for f in cond.findings if f.key == key), None) if here else None
            for cond, here in zip(conditions, present)]


def finding_sensitivity_specificity(calls: np.ndarray, truth: np.ndarray) -> tuple[float | None, float]:
    """(sensitivity, specificity) of one finding's label columns: present counts as found only with every side
    right, absent only with no side called. Sensitivity is None when the finding is never present."""
    present = truth.any(1)
    found = finding_found(calls, truth).sum()
    silent = (~calls.any(1) & ~present).sum()
    spec = float(silent / max(1, (~present).sum()))
    return (float(found / present.sum()) if present.any() else None), spec


def choose_operating_points(modality: str, probs: np.ndarray, masks: np.ndarray, y: np.ndarray,
                            min_specificity: float = 0.0) -> dict:
    """Per finding, the threshold (and, where it pays, the segmenter area) with the best balanced accuracy
    among those that keep the finding's specificity at `min_specificity` or more; a finding that no candidate
    keeps there, or that is never present, keeps the default."""
    truth, areas = y > 0.5, label_areas(masks, modality)
    points = {}
    for key, cols in label_columns(modality).items():
        t = truth[:, cols]
        if not t.any():
            continue

        def accuracy(calls):
            sens, spec = finding_sensitivity_specificity(calls, t)
            return (sens + spec) / 2 if spec >= min_specificity else -1.0

        p, a = probs[:, cols], areas[:, cols]
        best_t = max(THRESHOLD_GRID, key=lambda g: accuracy(p > g))
        best_ta = max(((g, m) for g in THRESHOLD_GRID + (1.0,) for m in MIN_AREA_GRID),
                      key=lambda gm: accuracy((p > gm[0]) | (a >= gm[1])))
        by_threshold, by_area = accuracy(p > best_t), accuracy((p > best_ta[0]) | (a >= best_ta[1]))
        if by_area >= max(0.0, by_threshold + AREA_RULE_MARGIN):
            points[key] = {"threshold": float(best_ta[0]), "min_area": int(best_ta[1])}
        elif by_threshold >= 0:
            points[key] = {"threshold": float(best_t), "min_area": None}
    return points


def operating_point_study(model, size: int, min_specificities: list[float], count: int = 2000,
                          heldout_count: int = 2000, seed0: int = CALIBRATION_SEED0, workers: int = 1) -> dict:
    """Operating points chosen on `count` calibration phantoms for each specificity floor, and the held-out
    figures at each (and at the default 0.5, the first row), from one rendering and one pass of the reader
    over each set. Leaves the model's own operating points as they were."""
    calibration = render_set(model.modality, size, seed0, count, workers, progress=False)
    probs, masks = predict(model, calibration.images())
    heldout = render_set(model.modality, size, HELDOUT_SEED0, heldout_count, workers, progress=False)
    predicted = predict(model, heldout.images())
    kept = getattr(model, "operating_points", None)
    rows = []
    try:
        for floor in [None, *min_specificities]:
            points = {} if floor is None else choose_operating_points(model.modality, probs, masks,
                                                                        calibration.y, floor)
            model.operating_points = points
            rows.append({"min_specificity": floor, "operating_points": points,
                         "heldout": score(model, heldout, predicted) | {
                             "size": size, "heldout_seeds": [HELDOUT_SEED0, HELDOUT_SEED0 + heldout_count]}})
    finally:
        model.operating_points = kept
    return {"calibration": {"images": count, "seeds": [seed0, seed0 + count]}, "rows": rows}


def dice(a: np.ndarray, b: np.ndarray) -> float:
    s = a.sum() + b.sum()
    return float(2 * (a & b).sum() / s) if s else 1.0


def auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann-Whitney, ties counted half); None without both classes."""
    from scipy.stats import rankdata

    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return None
    ranks = rankdata(scores)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def score(model, data: Batch, predicted: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Reader figures against the truth the simulator knows.

    finding_accuracy: balanced accuracy averaged over findings, where a present finding counts as found only
    on the right side(s) and an absent one only if no side fires (so "always normal" scores 0.5, not 0.9).
    exact_match: the whole set of findings and sides right in one image. lesion_dice: mean per-image Dice
    of the finding's mask where it is drawn with at least MIN_DICE_PIXELS pixels. auc (per finding): how well
    the finding's highest side probability ranks images with it above images without, at any threshold, so
    it tells a reader that sees a finding but calls it too rarely (high auc) from one that does not see it.
    false_call_rate: the share of images in which some finding or side is called that is not there (what the
    reader alone adds to a generator's false findings). Calls are made at the reader's operating points
    (`decide`); `predicted` reuses the reader's (probabilities, masks) for `data`.
    """
    probs, pred_masks = predict(model, data.images()) if predicted is None else predicted
    pred = decide(model, probs, pred_masks)
    truth = data.y > 0.5
    keys, columns = finding_keys(model.modality), label_columns(model.modality)
    per = {}
    for k in keys:
        cols = columns[k]
        present = truth[:, cols].any(1)
        sens, spec = finding_sensitivity_specificity(pred[:, cols], truth[:, cols])
        ki = keys.index(k)
        dices, small = [], []
        for n in np.nonzero(present)[0]:
            t = data.masks((n, ki)) > 0  # unpack this finding's mask only
            if t.sum() == 0:
                continue
            (dices if t.sum() >= MIN_DICE_PIXELS else small).append(dice(pred_masks[n, ki], t))
        per[k] = {"n_present": int(present.sum()), "sensitivity": None if sens is None else round(float(sens), 4),
                  "specificity": round(float(spec), 4),
                  "balanced_accuracy": None if sens is None else round(float((sens + spec) / 2), 4),
                  "auc": None if (a := auc(probs[:, cols].max(1), present)) is None else round(a, 4),
                  "dice": round(float(np.mean(dices)), 4) if dices else None, "n_dice": len(dices),
                  "dice_small": round(float(np.mean(small)), 4) if small else None, "n_small": len(small),
                  "sensitivity_by_severity": sensitivity_by_severity(
                      finding_found(pred[:, cols], truth[:, cols]), _severities(data.conditions, k, present))}
    all_d = [per[k]["dice"] * per[k]["n_dice"] for k in keys if per[k]["dice"] is not None]
    n_d = sum(per[k]["n_dice"] for k in keys)
    return {
        "modality": model.modality, "images": len(data),
        "finding_accuracy": round(float(np.mean([per[k]["balanced_accuracy"] for k in keys
                                                 if per[k]["balanced_accuracy"] is not None])), 4),
        "exact_match": round(float((pred == truth).all(1).mean()), 4),
        "label_accuracy": round(float((pred == truth).mean()), 4),
        "false_call_rate": round(float((pred & ~truth).any(1).mean()), 4),
        "lesion_dice": round(float(sum(all_d) / max(1, n_d)), 4),
        "per_finding": per,
    }


def evaluate(model, size: int, count: int = 2000, seed0: int = HELDOUT_SEED0, workers: int = 1) -> dict:
    return score(model, render_set(model.modality, size, seed0, count, workers, progress=False)) | {
        "size": size, "heldout_seeds": [seed0, seed0 + count]}


# ---- files ------------------------------------------------------------------------------------------------

def save(model, size: int, path: str, figures: dict | None = None) -> None:
    """safetensors weights plus a JSON sidecar (what the reader reads, how it was trained, its figures)."""
    from safetensors.torch import save_file

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(p))
    write_card(model, size, path, figures)


def write_card(model, size: int, path: str, figures: dict | None = None) -> None:
    """The JSON sidecar alone: a reader's operating points and figures change without its weights."""
    p = Path(path)
    meta = {"modality": model.modality, "size": size, "width": model.width, "readout": model.readout,
            "labels": model.labels, "findings": model.keys, "train": getattr(model, "train_info", {})}
    if getattr(model, "operating_points", None):
        meta["operating_points"] = model.operating_points
        meta["calibration"] = getattr(model, "calibration", {})
    old = p.with_suffix(".json")
    if figures is None and old.exists():
        figures = json.loads(old.read_text()).get("heldout")
    if figures is not None:
        meta["heldout"] = figures
    p.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")


def load(path: str):
    """(reader, image size). Raises FileNotFoundError for a missing file."""
    from safetensors.torch import load_file

    p = Path(path)
    meta = json.loads(p.with_suffix(".json").read_text())
    model = build(meta["modality"], meta["width"], meta["size"], meta.get("readout", "encoder"))
    if model.labels != meta["labels"]:
        raise ValueError(f"{p.name}: its labels do not match this vocabulary; retrain the reader")
    model.load_state_dict(load_file(str(p)))
    model.train_info = meta.get("train", {})
    model.operating_points = meta.get("operating_points", {})
    model.calibration = meta.get("calibration", {})
    model.heldout = meta.get("heldout", {})  # the card's figures on held-out phantoms
    model.eval()
    return model, meta["size"]


def default_path(modality: str, size: int = 64) -> Path:
    return Path(__file__).resolve().parent.parent / "weights" / f"reader-{modality}-{size}.safetensors"
