"""Matching a free-text diagnosis against the case's answer. Every decision names the rule that fired.

Layers: normalise -> split off the side (left/right/bilateral) -> exact, synonym (educator's list and
the knowledge graph's synonyms, abbreviations, ICD-10 code) -> typo tolerance for long words ->
laterality check against the side the case shows."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

TYPO_SIMILARITY = 0.9  # long words only: short terms (PE, PTX) must match exactly
TYPO_MIN_LENGTH = 5
SIDE_WORDS = {
    "left": "left", "left sided": "left", "lt": "left", "sinistra": "left",
    "right": "right", "right sided": "right", "rt": "right",
    "bilateral": "bilateral", "both sided": "bilateral", "bilaterally": "bilateral",
}


@dataclass(frozen=True)
class Verdict:
    correct: bool
    rule: str


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower().replace("oe", "e").replace("ae", "e")  # oedema/edema, haemothorax/hemothorax
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


def split_side(text: str) -> tuple[str, str | None]:
    """('pleural effusion', 'right') from 'right-sided pleural effusion'."""
    words = normalise(text)
    side = None
    for phrase in sorted(SIDE_WORDS, key=len, reverse=True):
        pattern = rf"\b{phrase}\b"
        if re.search(pattern, words):
            side = side or SIDE_WORDS[phrase]
            words = re.sub(pattern, " ", words)
    return " ".join(words.split()), side


def score_diagnosis(answer: str, *, diagnosis: str, synonyms: list[str], sides: set[str] | None = None) -> Verdict:
    """`sides`: the side(s) the case shows when the diagnosis text names none (from its findings)."""
    given, given_side = split_side(answer)
    if not given:
        return Verdict(False, "empty answer")
    target, target_side = split_side(diagnosis)
    expected_sides = {target_side} if target_side else set(sides or ()) - {"none"}
    accepted = [target] + [split_side(s)[0] for s in synonyms if s.strip()]
    if given == accepted[0]:
        rule = "exact match"
    elif given in accepted[1:]:
        rule = "synonym match"
    else:
        rule = ""
        for form in accepted:
            if len(form) >= TYPO_MIN_LENGTH and len(given) >= TYPO_MIN_LENGTH:
                if SequenceMatcher(None, given, form).ratio() >= TYPO_SIMILARITY:
                    rule = f"typo tolerance (close to '{form}')"
                    break
        if not rule:
            return Verdict(False, "no match")
    if given_side and expected_sides and given_side not in expected_sides:
        return Verdict(False, f"{rule}, but wrong side ({given_side}; the case shows {'/'.join(sorted(expected_sides))})")
    return Verdict(True, rule)


def accepted_synonyms(*, version) -> list[str]:
    """The educator's extra answers plus the KG disease's label, synonyms, abbreviations and ICD-10 code."""
    answers = [s.strip() for s in version.diagnosis_synonyms.split(",") if s.strip()]
    if version.diagnosis_id:
        from cases.kg import default_graph

        node = default_graph().nodes.get(version.diagnosis_id)
        if node is not None:
            answers += [node.label, *node.synonyms, *node.abbreviations]
            if node.attrs.get("icd10"):
                answers.append(node.attrs["icd10"])
    return answers


def case_sides(*, version) -> set[str]:
    """The sides of the case's findings (what the images show)."""
    return {f.get("laterality", "none") for study in version.studies.all() for f in study.findings}
