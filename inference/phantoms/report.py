"""Report-style sentences composed from the conditions, with seeded variation in phrasing."""

from __future__ import annotations

import numpy as np

from ..conditions import Conditions, Finding

_SEV_ADJ = {
    "mild": ["small", "mild", "minor", "slight"],
    "moderate": ["moderate", "moderate-sized", "medium"],
    "severe": ["large", "severe", "extensive", "marked"],
}
_LOBE = {"RUL": "right upper lobe", "RML": "right middle lobe", "RLL": "right lower lobe", "LUL": "left upper lobe",
         "LLL": "left lower lobe"}
_STUDY = {
    "cxr": {"PA": ["PA chest radiograph", "Frontal (PA) chest film", "Erect PA chest X-ray"],
            "AP": ["AP chest radiograph", "Portable AP chest film", "Semi-erect AP chest X-ray"]},
    "ct": {"axial": ["CT pulmonary angiogram, axial image", "Contrast-enhanced chest CT, axial slice",
                     "Axial CT of the chest"]},
    "lap": {"scope": ["Laparoscopic view", "Intra-operative laparoscopy frame", "Laparoscopic image of the upper abdomen"]},
}
_NORMAL = {
    "cxr": ["No acute cardiopulmonary abnormality.", "Lungs are clear; heart size normal; no effusion or pneumothorax.",
            "Normal chest radiograph."],
    "ct": ["No acute abnormality on this slice.", "Lungs clear, no filling defect, no effusion.",
           "Unremarkable appearances at this level."],
    "lap": ["Normal-appearing liver, gallbladder and bowel.", "No abnormality seen in the field of view.",
            "Unremarkable laparoscopic appearances."],
}


def _side(lat: str) -> str:
    return {"left": "left", "right": "right", "bilateral": "bilateral", "none": ""}.get(lat, "")


def _phrase(f: Finding, rng: np.random.Generator) -> str:
    adj = str(rng.choice(_SEV_ADJ.get(f.severity, ["moderate"])))
    side = _side(f.laterality)
    where = _LOBE.get((f.location or "").upper(), f.location or "")
    size = f"{f.size_mm:g} mm" if f.size_mm else ""

    def pick(*opts):
        return str(rng.choice(opts))

    k = f.key
    if k == "nodule":
        loc = where or f"{side} lung"
        return pick(f"{size} nodule in the {loc}".strip(), f"{loc} pulmonary nodule{' measuring ' + size if size else ''}",
                    f"solitary {side} lung nodule ({where or 'lobe unspecified'}){', ' + size if size else ''}")
    if k == "mass":
        loc = where or f"{side} lung"
        return pick(f"{size} mass in the {loc}".strip(), f"{loc} mass{' measuring ' + size if size else ''}",
                    f"{adj} {side} lung mass{' (' + size + ')' if size else ''}")
    if k == "consolidation":
        loc = where or (f"{side} lower zone" if side != "bilateral" else "both lower zones")
        return pick(f"{adj} consolidation in the {loc} with air bronchograms", f"{loc} airspace consolidation",
                    f"{adj} lobar consolidation, {loc}")
    if k == "effusion":
        return pick(f"{adj} {side} pleural effusion", f"{side} pleural effusion, {f.severity}",
                    f"{adj} {side} effusion with a meniscus")
    if k == "pneumothorax":
        return pick(f"{adj} {side} pneumothorax", f"{side} pneumothorax with a visible pleural line",
                    f"{f.severity} {side}-sided pneumothorax")
    if k == "tension_pneumothorax":
        other = "left" if side == "right" else "right"
        return pick(f"{side} tension pneumothorax with mediastinal shift to the {other}",
                    f"{adj} {side} pneumothorax under tension, depressed {side} hemidiaphragm",
                    f"{side} tension pneumothorax")
    if k == "cardiomegaly":
        return pick(f"{adj} cardiomegaly", f"cardiothoracic ratio above 0.5 ({f.severity} cardiomegaly)",
                    "enlarged cardiac silhouette")
    if k == "edema":
        return pick(f"{adj} pulmonary oedema with perihilar haze", "interstitial oedema with septal lines and upper lobe diversion",
                    f"{f.severity} pulmonary oedema")
    if k == "atelectasis":
        loc = where or f"{side} lung base"
        return pick(f"{adj} atelectasis of the {loc}", f"{loc} collapse with volume loss",
                    f"{f.severity} {side} atelectasis")
    if k == "emphysema":
        return pick(f"{adj} emphysema with hyperinflation", "hyperinflated lungs with flattened hemidiaphragms",
                    f"{f.severity} emphysematous change")
    if k == "pneumoperitoneum":
        return pick("free air under the diaphragm", f"{adj} pneumoperitoneum", "free intraperitoneal gas")
    if k == "rib_fracture":
        loc = f.location or "rib"
        return pick(f"{side} {loc} fracture", f"fracture of the {side} {loc}", f"{adj} {side} rib fracture ({loc})")
    if k == "pulmonary_embolism":
        return pick(f"{side} pulmonary embolism", f"filling defect in the {side} pulmonary arterial tree",
                    f"{adj} {side} pulmonary emboli")
    if k == "gallbladder_inflamed":
        return pick("inflamed, oedematous gallbladder", f"{adj} acute cholecystitis appearance",
                    "hyperaemic thickened gallbladder wall")
    if k == "gallbladder_distended":
        return pick("distended gallbladder", f"{adj} gallbladder distension", "tense, enlarged gallbladder")
    if k == "gallstone":
        return pick(f"gallstone{' of ' + size if size else ''}", "visible calculus", f"{adj} gallstone")
    if k == "bleeding":
        return pick("active bleeding in the field", f"{adj} haemorrhage", "fresh blood pooling")
    if k == "adhesions":
        return pick("adhesions", f"{adj} adhesive bands", "omental adhesions to the gallbladder")
    if k == "appendix_inflamed":
        return pick("inflamed appendix", f"{adj} appendicitis", "swollen hyperaemic appendix")
    return k.replace("_", " ")


def compose(conditions: Conditions, rng: np.random.Generator) -> str:
    study = str(rng.choice(_STUDY[conditions.modality][conditions.view]))
    if not conditions.findings:
        return f"{study}: {rng.choice(_NORMAL[conditions.modality])}"
    parts = [_phrase(f, rng) for f in conditions.findings]
    body = "; ".join(parts)
    body = body[0].upper() + body[1:]
    return f"{study}: {body}."
