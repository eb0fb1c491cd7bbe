"""The independent reader's reading of one generated image against the conditions it was drawn from.

An educator previews variants of a study before pinning one; under each, the reader that judges the generator
(`inference.evaluate`) says which asked findings it sees on the asked side and what else it calls, so that the
educator can pick a seed whose image shows the case and nothing the case does not have. The rule is the
evaluation's: a finding agrees when every side label of it is called as asked. Imports no Django.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from .conditions import Conditions

_READERS: dict[tuple[str, float], object] = {}
_READERS_LOCK = threading.Lock()


def _reader_for(path: Path):
    key = (str(path.resolve()), path.stat().st_mtime)
    with _READERS_LOCK:
        if key not in _READERS:
            from .phantoms import reader

            _READERS[key] = reader.load(str(path))[0]
        return _READERS[key]


def read_generated(pixels: np.ndarray, conditions: Conditions, reader_path: str | Path | None = None) -> dict:
    """{"available", "reader", "findings": [{key, laterality, severity, seen, called, reader_sensitivity}],
    "extra": [label]} for the native `pixels` of an image generated under `conditions`; {"available": False,
    "reason"} when no reader reads this modality at this size."""
    from .phantoms import image_from_pixels, reader

    modality, size = conditions.modality, int(pixels.shape[0])
    path = Path(reader_path) if reader_path else reader.default_path(modality, size)
    if not path.exists():
        return {"available": False, "reason": f"no reader for {modality} images of {size} px"}
    model = _reader_for(path)
    x = reader.as_input(image_from_pixels(pixels, modality))[None]
    probs, masks = reader.predict(model, x)
    called = reader.decide(model, probs, masks)[0]
    asked = reader.labels_for(conditions, modality) > 0.5
    names, columns = reader.label_names(modality), reader.label_columns(modality)
    per_finding = model.heldout.get("per_finding", {})
    findings = []
    for f in conditions.findings:
        cols = columns[f.key]
        by_severity = per_finding.get(f.key, {}).get("sensitivity_by_severity", {}).get(f.severity, {})
        findings.append({"key": f.key, "laterality": f.laterality, "severity": f.severity,
                         "seen": reader.finding_agrees(called, asked, cols),
                         "called": [names[j] for j in cols if called[j]],
                         # how often the reader finds this finding at this severity on phantoms (its card):
                         # a miss means little where it rarely finds one
                         "reader_sensitivity": by_severity.get("sensitivity")})
    return {"available": True, "reader": path.name, "findings": findings,
            "extra": [names[j] for j in np.nonzero(called & ~asked)[0]]}
