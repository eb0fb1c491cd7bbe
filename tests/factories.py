"""Inputs shared by tests."""

from cases.services import CaseInput, StudyInput

CASE_INPUT = CaseInput(
    title="Breathless after a fall",
    patient_age=67,
    patient_sex="F",
    presenting_complaint="Right chest pain and breathlessness after a fall.",
    history="Fell down three stairs yesterday.",
    diagnosis="Right pleural effusion",
    diagnosis_synonyms="pleural effusion, effusion",
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
