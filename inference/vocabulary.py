"""The closed vocabulary every room agrees on: findings, modalities, views, patient attributes.

The phantom simulator draws these findings, the DiT embeds them, the knowledge graph maps its
imaging findings onto these keys, and the web side validates case studies against them.
"""

from __future__ import annotations

from dataclasses import dataclass

MODALITIES = ("cxr", "ct", "lap")
VIEWS = {"cxr": ("PA", "AP"), "ct": ("axial",), "lap": ("scope",)}
SEXES = ("F", "M")
AGE_BANDS = ("18-39", "40-59", "60-79", "80+")
LATERALITIES = ("none", "left", "right", "bilateral")
# Where a finding sits. Free text is allowed in `Finding.location`; the model embeds these (lower-cased)
# and puts anything else into one "other" embedding.
LOCATIONS = (
    "", "rul", "rml", "rll", "lul", "lll", "lingula", "upper zone", "mid zone", "lower zone", "apex", "base",
    "hilar", "perihilar", "costophrenic angle", "other",
)
SEVERITIES = ("mild", "moderate", "severe")


@dataclass(frozen=True)
class FindingKind:
    key: str
    label: str
    modalities: tuple[str, ...]
    lateralities: tuple[str, ...]  # which lateralities make sense for this finding
    has_size: bool = False  # takes a size in millimetres (nodules, masses, stones)


_PAIRED = ("left", "right")
_PAIRED_OR_BOTH = ("left", "right", "bilateral")
_MIDLINE = ("none",)

FINDINGS: dict[str, FindingKind] = {
    f.key: f
    for f in (
        # chest (radiograph and CT)
        FindingKind("nodule", "Lung nodule", ("cxr", "ct"), _PAIRED, has_size=True),
        FindingKind("mass", "Lung mass", ("cxr", "ct"), _PAIRED, has_size=True),
        FindingKind("consolidation", "Lobar consolidation", ("cxr", "ct"), _PAIRED_OR_BOTH),
        FindingKind("effusion", "Pleural effusion", ("cxr", "ct"), _PAIRED_OR_BOTH),
        FindingKind("pneumothorax", "Pneumothorax", ("cxr", "ct"), _PAIRED),
        FindingKind("tension_pneumothorax", "Tension pneumothorax", ("cxr", "ct"), _PAIRED),
        FindingKind("cardiomegaly", "Cardiomegaly", ("cxr", "ct"), _MIDLINE),
        FindingKind("edema", "Pulmonary oedema", ("cxr", "ct"), ("bilateral",)),
        FindingKind("atelectasis", "Atelectasis", ("cxr", "ct"), _PAIRED),
        FindingKind("emphysema", "Emphysema", ("cxr", "ct"), ("bilateral",)),
        FindingKind("pneumoperitoneum", "Pneumoperitoneum", ("cxr", "ct"), _MIDLINE),
        FindingKind("rib_fracture", "Rib fracture", ("cxr", "ct"), _PAIRED),
        FindingKind("pulmonary_embolism", "Pulmonary embolism", ("ct",), _PAIRED_OR_BOTH),
        # laparoscopy
        FindingKind("gallbladder_inflamed", "Inflamed gallbladder", ("lap",), _MIDLINE),
        FindingKind("gallbladder_distended", "Distended gallbladder", ("lap",), _MIDLINE),
        FindingKind("gallstone", "Gallstone", ("lap",), _MIDLINE, has_size=True),
        FindingKind("bleeding", "Active bleeding", ("lap",), _MIDLINE),
        FindingKind("adhesions", "Adhesions", ("lap",), _MIDLINE),
        FindingKind("appendix_inflamed", "Inflamed appendix", ("lap",), _MIDLINE),
    )
}

# Stable integer ids for embeddings: index 0 is reserved for "no finding" (padding / dropped condition).
FINDING_IDS: dict[str, int] = {key: i + 1 for i, key in enumerate(FINDINGS)}
