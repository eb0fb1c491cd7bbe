"""What an image prompt was understood as: each clause matched to a knowledge-graph imaging finding by
MiniLM similarity over the findings' names and synonyms, with flags for what the generator cannot do
(an unsupported modality, a finding it cannot draw) and for contradictions ("normal" with a finding)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from inference.vocabulary import FINDINGS

from .kg import default_graph

MATCH_THRESHOLD = 0.6  # cosine similarity of mean-pooled MiniLM embeddings
MAX_PROMPT = 1000
NEGATIONS = re.compile(r"\b(no|without|absent|negative for|free of|resolved)\b")
NORMAL = re.compile(r"\b(normal|unremarkable|no (acute )?abnormalit(y|ies))\b")
SIDES = {"left": "left", "right": "right", "bilateral": "bilateral", "both": "bilateral"}
SIZES = {"small": "mild", "mild": "mild", "tiny": "mild", "moderate": "moderate", "large": "severe",
         "massive": "severe", "severe": "severe", "big": "severe"}
MODALITY_WORDS = [
    (r"\b(ct|computed tomography|ctpa)\b", "ct"),
    (r"\b(x ?-?ray|radiograph|cxr|chest film|pa film|ap film)\b", "cxr"),
    (r"\b(laparoscop\w*|endoscop\w*)\b", "lap"),
    (r"\b(mri|magnetic resonance)\b", "mri"),
    (r"\b(ultrasound|sonograph\w*|us scan)\b", "ultrasound"),
    (r"\b(pet|nuclear medicine|scintigraph\w*)\b", "nuclear medicine"),
]
MODALITY_NAMES = {"cxr": "chest X-ray", "ct": "CT", "lap": "laparoscopy"}


@dataclass(frozen=True)
class Match:
    clause: str
    finding_id: str
    label: str
    score: float
    phantom_key: str | None
    negated: bool
    laterality: str | None
    severity: str | None
    drawable: bool


@dataclass
class Grounding:
    matches: list[Match] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"matches": [asdict(m) for m in self.matches], "flags": self.flags, "unmatched": self.unmatched}


def clauses(text: str) -> list[str]:
    parts = re.split(r"[,;.\n]|\band\b|\bwith\b|\bplus\b", text.lower())
    return [" ".join(p.split()) for p in parts if len(p.strip()) > 2]


@lru_cache(maxsize=1)
def _finding_forms():
    """(forms, nodes, embeddings): every name and synonym of every imaging finding, embedded once."""
    from inference.text import get_text_encoder

    forms, nodes = [], []
    for node in default_graph().nodes_of_type("imaging_finding"):
        for form in (node.label, *node.synonyms):
            forms.append(form.lower())
            nodes.append(node)
    embeddings = get_text_encoder().encode(forms).pooled  # (F, 384), L2-normalised
    return forms, nodes, embeddings


def _strip_qualifiers(clause: str) -> str:
    """The clause without negation, side and size words, which would only blur the similarity."""
    text = NEGATIONS.sub(" ", clause)
    text = re.sub(r"\b(" + "|".join(list(SIDES) + list(SIZES)) + r")(-sided)?\b", " ", text)
    text = re.sub(r"\b(pa|ap|erect|supine|chest|radiograph|film|x ?-?ray|ct|image|showing|shows|a|an|the|of|in)\b",
                  " ", text)
    return " ".join(text.split())


def ground_prompt(text: str, *, modality: str) -> Grounding:
    from inference.text import get_text_encoder

    result = Grounding()
    text = text[:MAX_PROMPT]
    lowered = text.lower()
    for pattern, named in MODALITY_WORDS:
        if re.search(pattern, lowered) and named != modality:
            if named in MODALITY_NAMES:
                result.flags.append(f"the prompt names {MODALITY_NAMES[named]}, but this study is "
                                    f"{MODALITY_NAMES.get(modality, modality)}")
            else:
                result.flags.append(f"{named} is not a modality the generator draws")
    pieces = [(c, _strip_qualifiers(c)) for c in clauses(text)]
    pieces = [(c, core) for c, core in pieces if core and not NORMAL.fullmatch(core)]
    normal_said = bool(NORMAL.search(lowered))
    if pieces:
        forms, nodes, embeddings = _finding_forms()
        queries = get_text_encoder().encode([core for _, core in pieces]).pooled
        scores = queries @ embeddings.T  # (C, F)
        for (clause, core), row in zip(pieces, scores):
            best = int(row.argmax())
            score = float(row[best])
            if score < MATCH_THRESHOLD:
                result.unmatched.append(clause)
                continue
            node = nodes[best]
            key = node.attrs.get("phantom_key")
            words = set(re.findall(r"[a-z]+", clause))
            side = next((SIDES[w] for w in words if w in SIDES), None)
            severity = next((SIZES[w] for w in words if w in SIZES), None)
            drawable = bool(key) and modality in FINDINGS[key].modalities if key in FINDINGS else False
            match = Match(clause=clause, finding_id=node.id, label=node.label, score=round(score, 3),
                          phantom_key=key, negated=bool(NEGATIONS.search(clause)), laterality=side,
                          severity=severity, drawable=drawable)
            result.matches.append(match)
            if not match.negated and not drawable:
                result.flags.append(f"“{clause}” reads as {node.label}, which the generator cannot draw in "
                                    f"{MODALITY_NAMES.get(modality, modality)}")
            if side and key in FINDINGS and side not in FINDINGS[key].lateralities:
                result.flags.append(f"“{clause}”: {node.label} cannot be {side}")
    asserted = [m for m in result.matches if not m.negated]
    if normal_said and asserted:
        result.flags.append("contradictory: the prompt says normal but also "
                            + ", ".join(f"“{m.clause}”" for m in asserted))
    negated_ids = {m.finding_id for m in result.matches if m.negated}
    for m in asserted:
        if m.finding_id in negated_ids:
            result.flags.append(f"contradictory: {m.label} is both present and absent")
    return result
