"""Prompt grounding: real MiniLM embeddings against the knowledge graph's finding names."""

import pytest

from cases.grounding import ground_prompt


def labels(result):
    return [(m.label, m.negated, m.laterality, m.severity) for m in result.matches]


def test_a_plain_prompt_is_understood_with_side_and_size():
    result = ground_prompt("PA chest radiograph: moderate right pleural effusion", modality="cxr")
    assert labels(result) == [("Pleural effusion", False, "right", "moderate")]
    assert result.matches[0].drawable and result.flags == []


def test_normal_with_a_finding_is_contradictory():
    result = ground_prompt("Normal chest radiograph with a large left pneumothorax", modality="cxr")
    assert ("Pneumothorax", False, "left", "severe") in labels(result)
    assert any(f.startswith("contradictory: the prompt says normal") for f in result.flags)


def test_negated_findings_are_not_contradictions_or_requests():
    result = ground_prompt("free air under the diaphragm, no pneumothorax", modality="cxr")
    assert ("Pneumoperitoneum", False, None, None) in labels(result)
    assert any(m.negated and m.phantom_key == "pneumothorax" for m in result.matches)
    assert not [f for f in result.flags if "contradictory" in f]


def test_unsupported_modalities_and_undrawable_findings_are_flagged():
    result = ground_prompt("MRI of the chest showing a pulmonary embolism", modality="cxr")
    assert "mri is not a modality the generator draws" in result.flags
    assert any("cannot draw in chest X-ray" in f for f in result.flags)
    wrong = ground_prompt("CT with a left upper lobe nodule", modality="cxr")
    assert any("names CT, but this study is chest X-ray" in f for f in wrong.flags)


def test_nonsense_is_reported_as_not_understood():
    result = ground_prompt("a picture of a cat", modality="cxr")
    assert result.matches == [] and result.unmatched == ["a picture of a cat"]


@pytest.mark.django_db
def test_grounding_endpoint(world, client):
    client.force_login(world.elena)
    data = client.get("/kg/ground.json", {"text": "right pneumothorax", "modality": "cxr"}).json()
    assert data["matches"][0]["phantom_key"] == "pneumothorax"
    assert client.get("/kg/ground.json", {"text": "x", "modality": "xray"}).status_code == 400
    client.force_login(world.sam)
    assert client.get("/kg/ground.json", {"text": "x"}).status_code == 403
