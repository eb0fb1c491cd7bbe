"""Inputs shared by tests."""

from cases.services import CaseContent, StudyInput

CASE_INPUT = CaseContent(
    title="Breathless after a fall",
    patient_age=67,
    patient_sex="F",
    presenting_complaint="Right chest pain and breathlessness after a fall.",
    history={"onset": "Fell down three stairs yesterday."},
    vitals={"heart_rate": 98, "spo2": 94},
    diagnosis_id="disease:pleural_effusion",
    diagnosis="Right pleural effusion",
    diagnosis_synonyms="effusion",
    teaching_point="Blunted costophrenic angle with a meniscus.",
)
STUDY_INPUT = StudyInput(
    title="Chest X-ray PA",
    modality="cxr",
    view="PA",
    prompt="PA chest radiograph, moderate right pleural effusion",
    findings=[{"key": "effusion", "laterality": "right", "severity": "moderate"}],
    seed_policy="fixed",
    seed=11,
)
