import pytest

from simulator.encounters.scoring import score_diagnosis, split_side

SYNONYMS = ["pneumothorax", "PTX", "collapsed lung"]


@pytest.mark.parametrize(
    "answer,correct,rule",
    [
        ("Right pneumothorax", True, "exact match"),
        ("  right PNEUMOTHORAX. ", True, "exact match"),
        ("PTX", True, "synonym match"),
        ("right-sided collapsed lung", True, "synonym match"),
        ("right pneumothroax", True, "typo tolerance"),
        ("left pneumothorax", False, "exact match, but wrong side"),
        ("PTZ", False, "no match"),  # short terms must match exactly
        ("pleural effusion", False, "no match"),
        ("", False, "empty answer"),
    ],
)
def test_score(answer, correct, rule):
    verdict = score_diagnosis(answer, diagnosis="Right pneumothorax", synonyms=SYNONYMS)
    assert verdict.correct is correct, verdict
    assert verdict.rule.startswith(rule), verdict.rule


def test_the_side_comes_from_the_findings_when_the_diagnosis_names_none():
    kwargs = dict(diagnosis="Pleural effusion", synonyms=[], sides={"right"})
    assert score_diagnosis("right pleural effusion", **kwargs).correct
    assert score_diagnosis("pleural effusion", **kwargs).correct
    assert not score_diagnosis("left pleural effusion", **kwargs).correct
    assert score_diagnosis("bilateral effusions", diagnosis="Pleural effusion", synonyms=["effusions"],
                           sides={"bilateral"}).correct


def test_british_and_american_spellings_match():
    assert score_diagnosis("pulmonary edema", diagnosis="Pulmonary oedema", synonyms=[]).correct
    assert score_diagnosis("hemothorax", diagnosis="Haemothorax", synonyms=[]).correct


def test_split_side():
    assert split_side("Right-sided pleural effusion") == ("pleural effusion", "right")
    assert split_side("pneumothorax") == ("pneumothorax", None)
