"""The training-data API: `render`, `random_conditions`, `training_conditions`, `sample`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..conditions import MAX_FINDINGS, ConditionError, Conditions, Finding
from ..vocabulary import AGE_BANDS, FINDINGS, SEVERITIES, SEXES, VIEWS

SIZES = (64, 128, 256, 512)


@dataclass
class Sample:
    image: np.ndarray  # float32 in [0, 1]: (size, size) for cxr/ct, (size, size, 3) for lap
    pixels: np.ndarray  # native: uint16 12-bit (cxr), int16 HU (ct), uint8 RGB (lap)
    masks: dict = field(default_factory=dict)  # str -> bool (size, size)
    conditions: Conditions = field(default_factory=Conditions)
    report: str = ""


def _rng(seed: int, *salt: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFF, *salt])


def check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or int(size) not in SIZES:
        raise ConditionError(f"size {size!r} is not one of {', '.join(map(str, SIZES))}")
    return int(size)


def resolved_conditions(conditions: Conditions, seed: int, keep_masks: bool) -> Conditions:
    from .chest import resolve

    fs = []
    for f in conditions.findings:
        r = resolve(f, seed, conditions.modality)
        if keep_masks and f.mask_png_b64:
            r = replace(r, mask_png_b64=f.mask_png_b64)
        fs.append(r)
    return replace(conditions, findings=tuple(fs))


def image_from_pixels(pixels: np.ndarray, modality: str) -> np.ndarray:
    """Native pixels -> the model-ready float32 image in [0, 1] (12-bit CXR, CT HU -1024..1024, 8-bit RGB)."""
    x = pixels.astype(np.float32)
    if modality == "cxr":
        return x / 4095.0
    if modality == "ct":
        return (np.clip(x, -1024, 1024) + 1024.0) / 2048.0
    return x / 255.0


def render(conditions: Conditions, *, seed: int, size: int = 256) -> Sample:
    """Render one image of the virtual patient `seed` under `conditions` (validated here)."""
    if not isinstance(conditions, Conditions):
        raise ConditionError("conditions must be a Conditions object")
    conditions.validate()
    size = check_size(size)
    seed = int(seed)
    if seed < 0:
        raise ConditionError(f"seed {seed!r} must be >= 0")
    work = resolved_conditions(conditions, seed, keep_masks=True)
    if conditions.modality == "cxr":
        from .cxr import render_cxr

        pixels, masks, extra = render_cxr(work, seed, size)
    elif conditions.modality == "ct":
        from .ct import render_ct

        pixels, masks, extra = render_ct(work, seed, size)
    else:
        from .lap import render_lap

        pixels, masks, extra = render_lap(work, seed, size)
    image = image_from_pixels(pixels, conditions.modality)
    out = resolved_conditions(conditions, seed, keep_masks=False)
    out = replace(out, **extra).validate()
    from .report import compose

    report = compose(out, _rng(seed, 991))
    return Sample(image=image, pixels=pixels, masks=masks, conditions=out, report=report)


_LOBES_BY_SIDE = {"right": ("RUL", "RML", "RLL"), "left": ("LUL", "LLL")}
_SIZE_RANGE = {"nodule": (5.0, 30.0), "mass": (32.0, 80.0), "gallstone": (4.0, 25.0)}
_EXCLUSIVE = [{"pneumothorax", "tension_pneumothorax"}]


def random_conditions(rng: np.random.Generator, modality: str) -> Conditions:
    """A training condition: 0-2 findings (about 20% normal), attributes drawn from the vocabulary."""
    if modality not in VIEWS:
        raise ConditionError(f"unknown modality {modality!r}")
    view = VIEWS[modality][0]
    if modality == "cxr":
        view = "PA" if rng.random() < 0.65 else "AP"
    sex = str(rng.choice(SEXES))
    age = str(rng.choice(AGE_BANDS))
    u = rng.random()
    n = 0 if u < 0.2 else (1 if u < 0.7 else 2)
    keys = [k for k, v in FINDINGS.items() if modality in v.modalities]
    chosen: list[Finding] = []
    used: set[str] = set()
    for _ in range(n):
        for _try in range(10):
            key = str(rng.choice(keys))
            if key in used or any(key in ex and used & (ex - {key}) for ex in _EXCLUSIVE):
                continue
            break
        else:
            continue
        used.add(key)
        chosen.append(random_finding(rng, key))
    return Conditions(modality=modality, view=view, findings=tuple(chosen[:MAX_FINDINGS]), sex=sex,
                      age_band=age).validate()


def random_finding(rng: np.random.Generator, key: str) -> Finding:
    """One finding of `key` with laterality, severity, and sometimes size and location, drawn from `rng`."""
    kind = FINDINGS[key]
    lat = str(rng.choice(kind.lateralities))
    sev = str(rng.choice(SEVERITIES))
    size = None
    if kind.has_size and rng.random() < 0.7:
        lo, hi = _SIZE_RANGE.get(key, (5.0, 30.0))
        span = (hi - lo) / 3
        i = SEVERITIES.index(sev)
        size = round(float(rng.uniform(lo + span * i, lo + span * (i + 1))), 1)
    loc = ""
    if key in ("nodule", "mass", "consolidation", "atelectasis") and lat in _LOBES_BY_SIDE and rng.random() < 0.5:
        loc = str(rng.choice(_LOBES_BY_SIDE[lat]))
    if key == "rib_fracture" and rng.random() < 0.5:
        loc = f"rib {int(rng.integers(3, 11))}"
    return Finding(key=key, laterality=lat, location=loc, size_mm=size, severity=sev)


# salt of the stream that draws an enriched phantom's extra finding, so the rest of the phantom stays the same
_ENRICH_SALT = 7_919


def training_conditions(seed: int, modality: str, enrich: float = 0.0, findings: tuple[str, ...] = ()) -> Conditions:
    """`random_conditions` of this seed; with `enrich`, that share of them gains one of `findings` it lacks
    (and that may coexist with what it has), so a training stream sees more of what a model finds hardest."""
    c = random_conditions(np.random.default_rng(seed), modality)
    if enrich <= 0:
        return c
    rng = np.random.default_rng([seed, _ENRICH_SALT])
    have = {f.key for f in c.findings}
    options = [k for k in findings
               if k not in have and not any(k in ex and have & (ex - {k}) for ex in _EXCLUSIVE)]
    if rng.random() >= enrich or not options or len(c.findings) >= MAX_FINDINGS:
        return c
    return replace(c, findings=c.findings + (random_finding(rng, options[int(rng.integers(len(options)))]),)).validate()


def check_enrichment(modality: str, enrich: float, findings, *, name: str = "enrich") -> None:
    """One clear error for an enrichment a training stream cannot use (`name`: the setting as its user
    spelt it, a config field or a command-line flag)."""
    if not 0 <= enrich <= 1:
        raise ConditionError(f"{name} {enrich!r} must lie in 0..1 (the share of training phantoms)")
    unknown = [k for k in findings if k not in FINDINGS or modality not in FINDINGS[k].modalities]
    if unknown:
        raise ConditionError(f"enrichment finding(s) {', '.join(map(repr, unknown))} are not {modality} findings")
    if enrich and not findings:
        raise ConditionError(f"{name} {enrich} names no findings to add")


def sample(seed: int, modality: str, size: int = 64, *, enrich: float = 0.0, enrich_findings: tuple[str, ...] = ()
           ) -> Sample:
    """The streaming training source (`enrich`, `enrich_findings`: `training_conditions`)."""
    conditions = training_conditions(seed, modality, enrich, tuple(enrich_findings))
    return render(conditions, seed=seed, size=size)

