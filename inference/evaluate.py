"""Judge generator weights with the independent reader (thin CLI over `evaluate`).

    python -m inference.evaluate --modality cxr --samples 256 --json
    python -m inference.evaluate --guidance 1 1.5 2 3 --samples 128        # choose the guidance scale
    python -m inference.evaluate --compare old.json new.json                # paired changes, with intervals

Held-out conditions are drawn the way training draws them (`random_conditions`) from seeds neither the generator
nor the reader trained on, and each is generated three times through the app's own pipeline: once with the phantom's
finding masks drawn in ("with masks"), once without ("the model places it") and once with the app's default for
undrawn findings ("typical placement": the simulator's mask of each finding in another virtual patient, as
`GenerationRequest.placement_seed` gives it). The reader then scores:

- agreement: each conditioned finding is found, on the conditioned side(s);
- Dice: the reader's mask of a finding against the conditioned mask (drawn or placed; masks under
  reader.MIN_DICE_PIXELS pixels are left out, as in the reader's own figures);
- false findings: images in which the reader reports a finding or side that was not asked for;
- ceiling: the same scores on the phantom renders of the same conditions (what a perfect generator would get);
- diversity: mean pixel RMS distance between seeds of one condition, beside the same for phantom patients;
- memorisation: samples nearer to a training image than the 1st percentile of training-to-training
  nearest-neighbour distances.

`--review DIR` also writes, per arm, a sheet of the generated images in which the reader called a finding that
was not asked for (the reader's mask of it outlined, beside the phantom of the same condition), so that a person
can judge whether the generator drew it or the reader imagined it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .conditions import ConditionError, Conditions
from .vocabulary import SEVERITIES
from .weights_info import DEFAULT_GUIDANCE

EVAL_SEED0 = 30_000_000  # conditions and patients for evaluation; training uses 0.. and readers 10M / 20M
PLACEMENT_SEED0 = 40_000_000  # the virtual patients typical placement puts undrawn findings in (not the truth's)
ARMS = ("with_masks", "without_masks", "typical_placement")


FALSE_PLACES = ("on_asked", "elsewhere", "unlocated")


def false_call_place(pred_masks: np.ndarray, name: str, keys: list[str], asked: np.ndarray) -> str:
    """Where a false call lies: "on_asked" when at least half the reader's mask of it (on its side) covers the
    conditioned masks of the findings asked for (the asked finding, read as another kind), "elsewhere" when
    less does, "unlocated" when the reader draws none of it (a label from the classifier alone).

    pred_masks: (findings, s, s) bool of one image; asked: (s, s) bool, the union of its conditioned masks."""
    from .phantoms.reader import label_mask

    mask = label_mask(pred_masks, name, keys)
    drawn = int(mask.sum())
    if drawn == 0:
        return "unlocated"
    return "on_asked" if 2 * int((mask & asked).sum()) >= drawn else "elsewhere"


def _scores(model, images: np.ndarray, conditions: list[Conditions], target_masks: np.ndarray | None) -> dict:
    """Agreement, false findings and Dice of reader outputs on `images` (n, c, s, s) for `conditions`."""
    from .phantoms import reader

    probs, pred_masks = reader.predict(model, images)
    names, keys = reader.label_names(model.modality), reader.finding_keys(model.modality)
    columns = reader.label_columns(model.modality)
    per = {k: {"agree": [], "severity": [], "dice": []} for k in keys}  # one entry per conditioned finding
    false_by_label = {}
    false_alongside = {}  # false label -> the findings asked for in those images ("normal" where none)
    false_labels = []
    places = {p: 0 for p in FALSE_PLACES}  # false calls by where they lie (with conditioned masks only)
    falsed_elsewhere = []
    # per condition, so that two runs on the same conditions can be compared pairwise (`compare`)
    agreed, falsed = [], []
    calls = reader.decide(model, probs, pred_masks)  # at the reader's operating points
    for i, c in enumerate(conditions):
        want = reader.labels_for(c, model.modality) > 0.5
        got = calls[i]
        falsed.append(int((got & ~want).any()))
        false_labels.append([names[j] for j in np.nonzero(got & ~want)[0]])
        if target_masks is not None:
            asked_area = target_masks[i].any(0) > 0
            where = [false_call_place(pred_masks[i], name, keys, asked_area) for name in false_labels[-1]]
            for w in where:
                places[w] += 1
            falsed_elsewhere.append(int("elsewhere" in where or "unlocated" in where))
        asked = sorted({f.key for f in c.findings}) or ["normal"]
        for name in false_labels[-1]:
            false_by_label[name] = false_by_label.get(name, 0) + 1
            row = false_alongside.setdefault(name, {})
            for key in asked:
                row[key] = row.get(key, 0) + 1
        for f in c.findings:
            cols = columns[f.key]
            agree = reader.finding_agrees(got, want, cols)
            per[f.key]["agree"].append(agree)
            per[f.key]["severity"].append(f.severity)
            agreed.append([i, f.key, int(agree)])
            if target_masks is not None:
                ki = keys.index(f.key)
                t = target_masks[i, ki] > 0
                if t.sum() >= reader.MIN_DICE_PIXELS:
                    per[f.key]["dice"].append(reader.dice(pred_masks[i, ki], t))
    n = sum(len(v["agree"]) for v in per.values())
    dices = [d for v in per.values() for d in v["dice"]]
    return {
        "agreement": round(sum(sum(v["agree"]) for v in per.values()) / max(1, n), 4),
        "dice": round(float(np.mean(dices)), 4) if dices else None,
        "false_findings": round(sum(falsed) / max(1, len(conditions)), 4),
        "findings_scored": n,
        # images with a false call that is not the asked finding read as another kind (needs conditioned masks)
        "false_elsewhere": round(sum(falsed_elsewhere) / max(1, len(conditions)), 4) if falsed_elsewhere else None,
        "false_places": places if target_masks is not None else None,
        "false_by_label": dict(sorted(false_by_label.items(), key=lambda kv: -kv[1])),
        "false_alongside": {name: dict(sorted(row.items(), key=lambda kv: (-kv[1], kv[0])))
                            for name, row in false_alongside.items()},
        "per_finding": {k: {"n": len(v["agree"]), "agreement": round(sum(v["agree"]) / len(v["agree"]), 4),
                            "dice": round(float(np.mean(v["dice"])), 4) if v["dice"] else None,
                            # beside the reader card's sensitivity_by_severity: its ceiling per severity
                            "agreement_by_severity": {
                                sev: {"n": count, "agreement": rate}
                                for sev, (count, rate) in reader.rates_by_severity(v["agree"], v["severity"]).items()}}
                        for k, v in per.items() if v["agree"]},
        # [condition, finding, agreed]; false per condition; the labels called falsely per condition
        "outcomes": {"findings": agreed, "false": falsed, "false_labels": false_labels},
    }


REVIEW_CASES = 24  # per arm: enough to see what the false calls are, small enough to look at
REVIEW_SCALE = 3


def _display(image: np.ndarray) -> np.ndarray:
    """(c, s, s) model input in [0, 1] -> (s * scale, s * scale, 3) uint8, shown as stored (no windowing)."""
    rgb = np.repeat(image, 3, 0) if image.shape[0] == 1 else image[:3]
    rgb = np.clip(np.moveaxis(rgb, 0, -1), 0, 1)
    return (rgb * 255).round().astype(np.uint8).repeat(REVIEW_SCALE, 0).repeat(REVIEW_SCALE, 1)


def _outline(mask: np.ndarray) -> np.ndarray:
    """The boundary pixels of a (s, s) bool mask, at the sheet's scale."""
    big = mask.repeat(REVIEW_SCALE, 0).repeat(REVIEW_SCALE, 1)
    inner = big.copy()
    inner[1:-1, 1:-1] = big[1:-1, 1:-1] & big[:-2, 1:-1] & big[2:, 1:-1] & big[1:-1, :-2] & big[1:-1, 2:]
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    return big & ~inner


def write_review_sheet(path: Path, model, generated: np.ndarray, phantoms: np.ndarray,
                       conditions: list[Conditions], false_labels: list[list[str]],
                       limit: int = REVIEW_CASES) -> int:
    """A PNG of the first `limit` images with false findings: each case is the generated image, the same with
    the reader's mask of each falsely called label (on that label's side) outlined in red, and the phantom of
    that condition, over a line naming what was asked and what the reader called falsely. Returns the cases
    drawn."""
    from PIL import Image, ImageDraw

    from .phantoms import reader

    cases = [i for i, labels in enumerate(false_labels) if labels][:limit]
    size = generated.shape[-1] * REVIEW_SCALE
    gap, text_h, per_row = 6, 30, 2
    tile_w = 3 * size + 2 * gap
    rows = max(1, -(-len(cases) // per_row))
    sheet = Image.new("RGB", (per_row * (tile_w + 4 * gap), rows * (size + text_h + gap)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    if not cases:
        draw.text((gap, gap), "no false findings in this arm", fill=(0, 0, 0))
    keys = reader.finding_keys(model.modality)
    _probs, masks = reader.predict(model, generated[cases]) if cases else (None, None)
    for n, i in enumerate(cases):
        x0, y0 = (n % per_row) * (tile_w + 4 * gap), (n // per_row) * (size + text_h + gap)
        shown = _display(generated[i])
        marked = shown.copy()
        for name in false_labels[i]:
            marked[_outline(reader.label_mask(masks[n], name, keys))] = (255, 40, 40)
        for k, tile in enumerate((shown, marked, _display(phantoms[i]))):
            sheet.paste(Image.fromarray(tile), (x0 + k * (size + gap), y0))
        asked = ", ".join(f"{f.key}:{f.laterality}:{f.severity}" for f in conditions[i].findings) or "normal"
        draw.text((x0, y0 + size + 2), f"#{i} asked {asked}", fill=(0, 0, 0))
        draw.text((x0, y0 + size + 15), f"false: {', '.join(false_labels[i])}", fill=(200, 0, 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return len(cases)


def _rms_spread(images: np.ndarray) -> float:
    """Mean pairwise RMS pixel distance within a group of images (n, ...)."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    d = [np.sqrt(np.mean((flat[a] - flat[b]) ** 2)) for a in range(len(flat)) for b in range(a + 1, len(flat))]
    return float(np.mean(d))


def _nearest(a: np.ndarray, b: np.ndarray, exclude_self: bool = False) -> np.ndarray:
    """For each row of a, the L2 distance to its nearest row of b."""
    a = a.reshape(len(a), -1).astype(np.float32)
    b = b.reshape(len(b), -1).astype(np.float32)
    bb = (b * b).sum(1)
    out = np.empty(len(a), np.float32)
    for i in range(0, len(a), 512):
        blk = a[i:i + 512]
        d2 = (blk * blk).sum(1)[:, None] + bb[None, :] - 2 * blk @ b.T
        if exclude_self:
            d2[np.arange(len(blk)), np.arange(i, i + len(blk))] = np.inf
        out[i:i + 512] = np.sqrt(np.maximum(d2.min(1), 0))
    return out


def memorisation(generated: np.ndarray, training: np.ndarray) -> dict:
    """How many generated images sit nearer to a training image than the 1st percentile of the training
    images' own nearest-neighbour distances (L2 over pixels in [0, 1])."""
    threshold = float(np.percentile(_nearest(training, training, exclude_self=True), 1))
    nearest = _nearest(generated, training)
    return {"reference_images": int(len(training)), "threshold_l2": round(threshold, 3),
            "nearest_l2_min": round(float(nearest.min()), 3), "nearest_l2_median": round(float(np.median(nearest)), 3),
            "memorised": int((nearest < threshold).sum()), "checked": int(len(nearest))}


_TRAINING_IMAGES: dict[tuple, np.ndarray] = {}  # a guidance sweep renders the references once


def training_images(generator, count: int, workers: int) -> np.ndarray:
    """The first `count` images the generator's recipe trained on (its data stream is seeded and replayable)."""
    key = (generator.model_version, count)
    if key not in _TRAINING_IMAGES:
        _TRAINING_IMAGES[key] = _render_training_images(generator, count, workers)
    return _TRAINING_IMAGES[key]


def _render_training_images(generator, count: int, workers: int) -> np.ndarray:
    """The start of each data stream the weights were trained on (every stage a warm start recorded), `count`
    images shared among them; weights that record no stream replay recipe seed 0's."""
    from .phantoms import reader
    from .train import PhantomBatches, data_stream, data_streams

    streams = data_streams(generator.meta) or [data_stream({}, 0)]
    images = []
    for k, stream in enumerate(streams):
        share = count // len(streams) + (k < count % len(streams))
        if stream["steps"]:
            share = min(share, stream["steps"] * stream["batch_size"])
        if not share:
            continue
        seeds = [PhantomBatches.sample_seed(stream["seed"], n // stream["batch_size"], n % stream["batch_size"],
                                            stream["batch_size"]) for n in range(share)]
        # a recipe's training seeds are consecutive; render them as one range
        if seeds != list(range(seeds[0], seeds[0] + len(seeds))):
            raise ValueError("training seeds are not a consecutive range; cannot replay them")
        images.append(reader.render_set(generator.config.modalities[0], generator.config.image_size, seeds[0],
                                        len(seeds), workers, progress=False, enrich=stream["enrich"],
                                        findings=tuple(stream["enrich_findings"])).images())
    return np.concatenate(images)


def evaluate(*, weights: str | None = None, reader_path: str | None = None, modality: str = "cxr",
             samples: int = 256, guidance: float = DEFAULT_GUIDANCE, steps: int = 20, sampler: str = "dpmpp2m",
             diversity_groups: int = 16, diversity_seeds: int = 4, memorisation_refs: int = 2048,
             workers: int = 2, progress: bool = True, review_dir: str | None = None) -> dict:
    from tqdm import tqdm

    from .phantoms import image_from_pixels, random_conditions, reader, render
    from .pipeline import GenerationRequest, get_generator
    from .placement import fill_masks, typical_placement

    generator = get_generator(weights)
    if modality not in generator.config.modalities:
        raise ConditionError(f"weights {generator.model_version} do not generate {modality!r}")
    size = generator.config.image_size
    rpath = Path(reader_path) if reader_path else reader.default_path(modality, size)
    if not rpath.exists():
        raise ConditionError(f"no reader for {modality} at {size} px ({rpath}); train one with "
                             f"`python -m inference.phantoms reader train --size {size} --out {rpath}`")
    model, rsize = reader.load(str(rpath))
    if rsize != size:
        raise ConditionError(f"reader {rpath.name} reads {rsize} px images; the generator makes {size} px")
    t0 = time.time()

    # held-out conditions, their phantom renders (truth masks, reader ceiling) and both generated arms
    conds, truth_x, truth_m = [], [], []
    for i in range(samples):
        seed = EVAL_SEED0 + i
        c = random_conditions(np.random.default_rng(seed), modality)
        s = render(c, seed=seed, size=size)
        conds.append((c, s))
        truth_x.append(reader.as_input(s.image))
        truth_m.append(reader.masks_for(s.masks, s.conditions, modality, size))
    truth_x, truth_m = np.stack(truth_x).astype(np.float32), np.stack(truth_m)

    def gen(c: Conditions, seed: int, placement_seed: int | None = None) -> np.ndarray:
        r = generator.generate(GenerationRequest(conditions=c, seed=seed, steps=steps, sampler=sampler,
                                                 guidance=guidance, placement_seed=placement_seed))
        # the native pixels, read as the phantoms' are: the reader sees 12-bit / HU precision
        return reader.as_input(image_from_pixels(r.pixels, modality))

    plain = [c for c, _s in conds]
    masked = [fill_masks(c, s.masks)[0] for c, s in conds]
    bar = tqdm(total=len(ARMS) * samples + diversity_groups * diversity_seeds, desc="generate",
               disable=not progress)
    arms, placed_m = {}, []
    for arm, cs in (("with_masks", masked), ("without_masks", plain), ("typical_placement", plain)):
        xs = []
        for i, c in enumerate(cs):
            placement_seed = PLACEMENT_SEED0 + i if arm == "typical_placement" else None
            xs.append(gen(c, EVAL_SEED0 + i, placement_seed))
            if placement_seed is not None:  # the masks the pipeline just placed (cached): this arm's Dice targets
                placement = typical_placement(c, seed=placement_seed, size=size)
                placed_m.append(reader.masks_for(placement.masks, c, modality, size))
            bar.update(1)
        arms[arm] = np.stack(xs)
    # diversity: one condition (no masks), several seeds; against several phantom patients of that condition
    spreads, truth_spreads = [], []
    for g in range(min(diversity_groups, samples)):
        c = plain[g]
        xs = []
        for k in range(diversity_seeds):
            xs.append(gen(c, EVAL_SEED0 + 1_000_000 + g * 100 + k))
            bar.update(1)
        spreads.append(_rms_spread(np.stack(xs)))
        renders = [render(c, seed=EVAL_SEED0 + 2_000_000 + g * 100 + k, size=size).image for k in range(diversity_seeds)]
        truth_spreads.append(_rms_spread(np.stack(renders)))
    bar.close()

    # memorisation against the replayed start of every training stream
    refs = training_images(generator, memorisation_refs, workers)
    gen_all = np.concatenate([arms[arm] for arm in ARMS])

    result = {
        "model_version": generator.model_version,
        "reader": rpath.name,
        "modality": modality,
        "image_size": size,
        "samples": samples,
        "sampler": sampler,
        "steps": steps,
        "guidance": guidance,
        "eval_seeds": [EVAL_SEED0, EVAL_SEED0 + samples],
        "with_masks": _scores(model, arms["with_masks"], plain, truth_m),
        "without_masks": _scores(model, arms["without_masks"], plain, None),
        "typical_placement": _scores(model, arms["typical_placement"], plain, np.stack(placed_m)),
        "placement_seeds": [PLACEMENT_SEED0, PLACEMENT_SEED0 + samples],
        "reader_ceiling": _scores(model, truth_x, plain, truth_m),
        "diversity": {"generated_rms": round(float(np.mean(spreads)), 4),
                      "phantom_rms": round(float(np.mean(truth_spreads)), 4),
                      "ratio": round(float(np.mean(spreads) / np.mean(truth_spreads)), 3),
                      "groups": len(spreads), "seeds_per_group": diversity_seeds},
        "memorisation": memorisation(gen_all, refs),
        "seconds": round(time.time() - t0, 1),
    }
    if review_dir:
        for arm in ARMS:
            false_labels = result[arm]["outcomes"]["false_labels"]
            write_review_sheet(Path(review_dir) / f"{arm}-g{guidance:g}.png", model, arms[arm], truth_x, plain,
                               false_labels)
    return result


def _summary(r: dict) -> str:
    lines = [f"{r['model_version']}  {r['sampler']} {r['steps']} steps  guidance {r['guidance']}  "
             f"{r['samples']} held-out conditions  ({r['seconds']} s)"]
    arms = [arm for arm in ARMS if arm in r]  # results saved before typical placement have two arms
    lines.append(f"{'':22s}{'agreement':>10s}{'dice':>8s}{'false':>8s}")
    for arm in (*arms, "reader_ceiling"):
        a = r[arm]
        dice = f"{a['dice']:.3f}" if a["dice"] is not None else "-"
        lines.append(f"{arm:22s}{a['agreement']:10.3f}{dice:>8s}{a['false_findings']:8.3f}")
    for arm in arms:
        top = ", ".join(f"{k} {v}" for k, v in list(r[arm]["false_by_label"].items())[:5])
        lines.append(f"false findings {arm}: {top or 'none'}")
    for arm in (*arms, "reader_ceiling"):
        pl = r[arm].get("false_places")  # absent in older results and where no masks were conditioned
        if pl:
            lines.append(f"false calls {arm}: {sum(pl.values())}, {pl['on_asked']} on an asked finding (read as "
                         f"another kind), {pl['elsewhere']} elsewhere, {pl['unlocated']} with no mask drawn; "
                         f"images with one elsewhere or undrawn {r[arm]['false_elsewhere']:.3f}")
    for arm in (*arms, "reader_ceiling"):
        alongside = r[arm].get("false_alongside")  # absent in older results
        for name in list(r[arm]["false_by_label"])[:3] if alongside else []:
            asked = ", ".join(f"{k} {v}" for k, v in list(alongside[name].items())[:4])
            lines.append(f"  {arm} {name} {r[arm]['false_by_label'][name]}, in images asking for: {asked}")
    short = {"with_masks": "with masks", "without_masks": "without masks", "typical_placement": "typical placement"}
    lines.append(f"per finding ({' / '.join(short[a] for a in arms)} / ceiling agreement; "
                 f"{' / '.join(short[a] for a in arms if a != 'without_masks')} dice):")

    def fmt(value):
        return f"{value:.3f}" if value is not None else "-"

    for k, v in r["with_masks"]["per_finding"].items():
        agree = " / ".join(fmt(r[a]["per_finding"].get(k, {}).get("agreement")) for a in arms)
        ce = fmt(r["reader_ceiling"]["per_finding"].get(k, {}).get("agreement"))
        dice = " / ".join(fmt(r[a]["per_finding"].get(k, {}).get("dice")) for a in arms if a != "without_masks")
        lines.append(f"  {k:22s} n={v['n']:3d}  {agree} / {ce}   dice {dice}")
    if any("agreement_by_severity" in v for v in r["with_masks"]["per_finding"].values()):  # absent in older results
        lines.append("agreement by severity, with masks (mild / moderate / severe; the ceiling's in brackets):")

        def by_severity(v):
            rows = v.get("agreement_by_severity", {})
            return " / ".join(fmt(rows[s]["agreement"]) if s in rows else "-" for s in SEVERITIES)

        for k, v in r["with_masks"]["per_finding"].items():
            lines.append(f"  {k:22s} {by_severity(v)}  ({by_severity(r['reader_ceiling']['per_finding'].get(k, {}))})")
    d, m = r["diversity"], r["memorisation"]
    lines.append(f"diversity: RMS between seeds {d['generated_rms']:.4f} vs phantom patients {d['phantom_rms']:.4f} "
                 f"(ratio {d['ratio']:.3f}, {d['groups']} conditions x {d['seeds_per_group']} seeds)")
    lines.append(f"memorisation: {m['memorised']} of {m['checked']} samples nearer to a training image than "
                 f"{m['threshold_l2']:.3f} (1st percentile of {m['reference_images']} training images' nearest "
                 f"neighbours); nearest sample {m['nearest_l2_min']:.3f}")
    return "\n".join(lines)


COMPARE_RESAMPLES = 2000


def compare(a: dict, b: dict, *, resamples: int = COMPARE_RESAMPLES, seed: int = 0) -> dict:
    """Paired comparison of two evaluations of the same held-out conditions by the same reader (A then B).

    Each condition was generated by both, so the changes are paired: a bootstrap over conditions (each keeps its
    one or two findings together) gives a 95% interval for each change, and the findings that B got right and A
    did not (gained) and the reverse (lost) show how much of the change is churn.
    """
    for key in ("modality", "samples", "eval_seeds", "reader"):
        if a.get(key) != b.get(key):
            raise ConditionError(f"the two results differ in {key} ({a.get(key)!r} against {b.get(key)!r}): "
                                 "only runs on the same conditions, judged by the same reader, compare")
    arms = [arm for arm in ARMS if arm in a and arm in b]
    if a.get("placement_seeds") != b.get("placement_seeds"):
        arms = [arm for arm in arms if arm != "typical_placement"]
    n = a["samples"]
    picks = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    out = {"a": _label(a), "b": _label(b), "samples": a["samples"], "reader": a["reader"],
           "resamples": resamples, "arms": {}}
    for arm in arms:
        oa, ob = a[arm].get("outcomes"), b[arm].get("outcomes")
        if oa is None or ob is None:
            raise ConditionError(f"a result saved before per-condition outcomes were recorded has none for {arm}; "
                                 "evaluate it again")
        fa, fb = oa["findings"], ob["findings"]
        if [row[:2] for row in fa] != [row[:2] for row in fb]:
            raise ConditionError(f"{arm}: the two results scored different findings; they are not the same conditions")
        count, agree_a, agree_b = np.zeros(n), np.zeros(n), np.zeros(n)
        by_finding: dict[str, list[int]] = {}  # key -> [gained, lost]
        for (i, key, x), (_i, _k, y) in zip(fa, fb):
            count[i] += 1
            agree_a[i] += x
            agree_b[i] += y
            if x != y:
                by_finding.setdefault(key, [0, 0])[0 if y else 1] += 1
        false_a, false_b = np.asarray(oa["false"], float), np.asarray(ob["false"], float)
        with np.errstate(invalid="ignore"):
            agree_diff = (agree_b[picks].sum(1) - agree_a[picks].sum(1)) / count[picks].sum(1)
        false_diff = (false_b[picks] - false_a[picks]).mean(1)
        out["arms"][arm] = {
            "agreement": [a[arm]["agreement"], b[arm]["agreement"]],
            "agreement_change": round(b[arm]["agreement"] - a[arm]["agreement"], 4),
            "agreement_interval": _interval(agree_diff),
            "findings_gained": sum(g for g, _lost in by_finding.values()),
            "findings_lost": sum(lost for _g, lost in by_finding.values()),
            "gained_lost_by_finding": dict(sorted(by_finding.items(), key=lambda kv: kv[1][1] - kv[1][0])),
            "false_findings": [a[arm]["false_findings"], b[arm]["false_findings"]],
            "false_change": round(b[arm]["false_findings"] - a[arm]["false_findings"], 4),
            "false_interval": _interval(false_diff),
        }
    return out


def _interval(changes: np.ndarray) -> list[float]:
    lo, hi = np.nanpercentile(changes, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def _label(r: dict) -> str:
    return f"{r['model_version']} {r['sampler']} {r['steps']} steps guidance {r['guidance']}"


def _compare_summary(c: dict) -> str:
    def signed(x):
        return f"{x:+.3f}"

    lines = [f"A: {c['a']}", f"B: {c['b']}",
             f"{c['samples']} held-out conditions, reader {c['reader']}; changes B - A with 95% intervals from a "
             f"paired bootstrap over conditions ({c['resamples']} resamples)",
             f"{'':20s}{'agreement A -> B':>18s}{'change':>9s}{'interval':>18s}{'gained/lost':>13s}"
             f"{'false A -> B':>15s}{'change':>9s}{'interval':>18s}"]
    for arm, v in c["arms"].items():
        ag, fa = v["agreement"], v["false_findings"]
        ai, fi = v["agreement_interval"], v["false_interval"]
        lines.append(f"{arm:20s}{ag[0]:>9.3f} -> {ag[1]:.3f}{signed(v['agreement_change']):>9s}"
                     f"{'[' + signed(ai[0]) + ', ' + signed(ai[1]) + ']':>18s}"
                     f"{str(v['findings_gained']) + '/' + str(v['findings_lost']):>13s}"
                     f"{fa[0]:>8.3f} -> {fa[1]:.3f}{signed(v['false_change']):>9s}"
                     f"{'[' + signed(fi[0]) + ', ' + signed(fi[1]) + ']':>18s}")
    for arm, v in c["arms"].items():
        moved = ", ".join(f"{k} +{g}/-{lost}" for k, (g, lost) in v["gained_lost_by_finding"].items())
        lines.append(f"gained/lost by finding, {arm}: {moved or 'none'}")
    return "\n".join(lines)


def _read_saved(path: str) -> dict | list:
    """A result (or a list of them, one per guidance scale) written with --out."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConditionError(f"cannot read {path}: {exc}") from exc


def _load_result(spec: str) -> dict:
    """`FILE` or `FILE:INDEX` (a file written by a run over several guidance scales holds a list)."""
    path, _, index = spec.rpartition(":") if ":" in spec and not Path(spec).exists() else (spec, "", "")
    saved = _read_saved(path)
    if isinstance(saved, dict):
        if index:
            raise ConditionError(f"{path} holds one result; drop :{index}")
        return saved
    if not index:
        raise ConditionError(f"{path} holds {len(saved)} results (guidance "
                             f"{', '.join(str(r['guidance']) for r in saved)}); name one as {path}:INDEX")
    if not index.isdigit() or int(index) >= len(saved):
        raise ConditionError(f"{path} holds results 0-{len(saved) - 1}; there is no {index!r}")
    return saved[int(index)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m inference.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--modality", default="cxr")
    p.add_argument("--weights", help="generator weights (default: the shipped ones)")
    p.add_argument("--reader", help="reader weights (default: the shipped reader for the modality and size)")
    p.add_argument("--samples", type=int, default=256)
    p.add_argument("--guidance", type=float, nargs="+", default=[DEFAULT_GUIDANCE])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--sampler", default="dpmpp2m")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=2, help="processes rendering the memorisation references")
    p.add_argument("--references", type=int, default=2048, help="training images for the memorisation check")
    p.add_argument("--json", action="store_true", help="print the full figures as JSON")
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--review", metavar="DIR",
                   help=f"also write per arm a sheet of the first {REVIEW_CASES} images with false findings")
    p.add_argument("--show", metavar="JSON", help="print the summary of a result saved with --out, evaluate nothing")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"),
                   help="compare two results saved with --out on the same conditions (FILE or FILE:INDEX), "
                        "evaluate nothing")
    args = p.parse_args(argv)
    try:
        return _run(args)
    except ConditionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    """The command itself; bad input raises ConditionError, which `main` prints as one line (exit 2)."""
    if args.compare:
        c = compare(_load_result(args.compare[0]), _load_result(args.compare[1]))
        print(json.dumps(c, indent=2) if args.json else _compare_summary(c))
        return 0
    if args.show:
        saved = _read_saved(args.show)
        for r in saved if isinstance(saved, list) else [saved]:
            print(_summary(r))
        return 0
    if args.samples < 1:
        raise ConditionError(f"--samples {args.samples} must be at least 1")
    import torch

    torch.set_num_threads(args.threads)
    results = []
    for g in args.guidance:
        r = evaluate(weights=args.weights, reader_path=args.reader, modality=args.modality, samples=args.samples,
                     guidance=g, steps=args.steps, sampler=args.sampler, workers=args.workers,
                     memorisation_refs=args.references, progress=not args.json, review_dir=args.review)
        results.append(r)
        if not args.json:
            print(_summary(r), flush=True)
    data = results[0] if len(results) == 1 else results
    if args.json:
        print(json.dumps(data, indent=2))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
