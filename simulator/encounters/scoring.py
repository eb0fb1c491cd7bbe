"""Matching a free-text diagnosis against the case's answer. Every decision names the rule that fired."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

TYPO_SIMILARITY = 0.9  # long words only: short terms (PE, PTX) must match exactly
TYPO_MIN_LENGTH = 5


@dataclass(frozen=True)
class Verdict:
    correct: bool
    rule: str


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower().replace("oe", "e").replace("ae", "e")  # oedema/edema, haemothorax/hemothorax
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


def score_diagnosis(answer: str, *, diagnosis: str, synonyms: list[str]) -> Verdict:
    given = normalise(answer)
    if not given:
        return Verdict(False, "empty answer")
    accepted = [normalise(diagnosis)] + [normalise(s) for s in synonyms if s.strip()]
    if given == accepted[0]:
        return Verdict(True, "exact match")
    if given in accepted[1:]:
        return Verdict(True, "synonym match")
    for target in accepted:
        if len(target) >= TYPO_MIN_LENGTH and len(given) >= TYPO_MIN_LENGTH:
            if SequenceMatcher(None, given, target).ratio() >= TYPO_SIMILARITY:
                return Verdict(True, f"typo tolerance (close to '{target}')")
    return Verdict(False, "no match")
