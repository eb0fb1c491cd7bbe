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

# the case editor's form, filled in as an educator would
CASE_FORM = {
    "title": "Cough and fever", "patient_age": "58", "patient_sex": "M",
    "presenting_complaint": "Three days of productive cough and fever.", "history_smoking": "20 pack-years",
    "history_onset": "Three days ago", "vital_heart_rate": "104", "vital_temperature": "38.6",
    "exam": "Bronchial breathing right base.", "diagnosis_id": "disease:lobar_pneumonia",
    "diagnosis": "Right lower lobe pneumonia", "diagnosis_synonyms": "CAP",
    "differentials": "disease:pleural_effusion,disease:pulmonary_embolism",
    "teaching_point": "Air bronchograms mean airspace disease.", "study_title": "Chest X-ray PA",
    "study_modality": "cxr", "study_view": "PA", "study_prompt": "right lower lobe consolidation",
    "seed_policy": "fixed", "seed": "3",
    "finding_0_key": "consolidation", "finding_0_laterality": "right", "finding_0_severity": "moderate",
}
