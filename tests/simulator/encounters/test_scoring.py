import pytest

from simulator.encounters.scoring import score_diagnosis

SYNONYMS = ["pneumothorax", "PTX", "collapsed lung"]


@pytest.mark.parametrize(
    "answer,correct,rule",
    [
        ("Right pneumothorax", True, "exact match"),
        ("  right PNEUMOTHORAX. ", True, "exact match"),
        ("PTX", True, "synonym match"),
        ("collapsed lung", True, "synonym match"),
        ("right pneumothroax", True, "typo tolerance"),
        ("PTZ", False, "no match"),  # short terms must match exactly
        ("pleural effusion", False, "no match"),
        ("", False, "empty answer"),
    ],
)
def test_score(answer, correct, rule):
    verdict = score_diagnosis(answer, diagnosis="Right pneumothorax", synonyms=SYNONYMS)
    assert verdict.correct is correct
    assert verdict.rule.startswith(rule)


def test_british_and_american_spellings_match():
    assert score_diagnosis("pulmonary edema", diagnosis="Pulmonary oedema", synonyms=[]).correct
    assert score_diagnosis("hemothorax", diagnosis="Haemothorax", synonyms=[]).correct
