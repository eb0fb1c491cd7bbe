"""Demo data for `make run`: one organisation, an educator, an instructor, two students in one
cohort, a student in another cohort, and six published chest X-ray cases with painted masks.
Safe to run again."""

import numpy as np
from django.core.management.base import BaseCommand
from django.db import transaction

from cases.kg import default_graph
from cases.models import CaseVersion
from cases.services import CaseContent, StudyInput, case_create, case_publish
from inference.conditions import MASK_SIZE, mask_to_png_b64
from simulator.accounts.models import Cohort, Organisation, Role, User

DEMO_PASSWORD = "radsim-demo"
GROUP_A, GROUP_B = "Year 3 — Group A", "Year 3 — Group B"

PEOPLE = [
    ("educator", "Elena", "Ortiz", Role.EDUCATOR, None),
    ("instructor", "Ivan", "Novak", Role.INSTRUCTOR, GROUP_A),
    ("student1", "Sam", "Reyes", Role.STUDENT, GROUP_A),
    ("student2", "Tara", "Kim", Role.STUDENT, GROUP_A),
    ("student3", "Omar", "Haddad", Role.STUDENT, GROUP_B),
]


def painted(shape: str, *, cx: float, cy: float, rx: float, ry: float) -> str:
    """A mask as an educator paints it on the 256 px PA film (image left = patient's right)."""
    y, x = np.mgrid[0:MASK_SIZE, 0:MASK_SIZE]
    inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0
    if shape == "crescent":  # a rim along the lateral chest wall
        inner = ((x - cx - np.sign(128 - cx) * rx * 0.45) / (rx * 0.8)) ** 2 + ((y - cy) / (ry * 0.9)) ** 2 <= 1.0
        inside &= ~inner
    if shape == "base":  # fluid: the lower part of the ellipse only
        inside &= y >= cy - ry * 0.2
    if shape == "cap":  # free air: the upper half, a crescent under a dome
        inside &= y <= cy
    return mask_to_png_b64(inside)


def union(*masks_b64: str) -> str:
    from inference.conditions import Finding

    arrays = [Finding(key="edema", mask_png_b64=m).mask_array() for m in masks_b64]
    return mask_to_png_b64(np.logical_or.reduce(arrays))


def study(title: str, prompt: str, findings: list[dict], seed: int) -> StudyInput:
    return StudyInput(title=title, modality="cxr", view="PA", prompt=prompt, findings=findings, seed=seed)


DEMO_CASES = [
    (
        CaseContent(
            title="Sudden breathlessness in a tall young man", patient_age=24, patient_sex="M",
            presenting_complaint="Sudden sharp right-sided chest pain and breathlessness that began at rest.",
            history={"onset": "Two hours ago while watching television.", "character": "Sharp, worse on breathing in.",
                     "smoking": "10 cigarettes a day for 6 years.", "past_history": "None.",
                     "medications": "None.", "allergies": "None known."},
            vitals={"heart_rate": 104, "resp_rate": 22, "bp_systolic": 128, "bp_diastolic": 78,
                    "temperature": 36.8, "spo2": 94},
            exam="Reduced breath sounds and hyper-resonance on the right.",
            diagnosis_id="disease:pneumothorax", diagnosis="Right pneumothorax",
            diagnosis_synonyms="right-sided pneumothorax, primary spontaneous pneumothorax",
            differentials=["disease:pulmonary_embolism"],
            teaching_point="Look for the visceral pleural line with no lung markings beyond it. A tall, thin "
                           "young smoker is the classic patient for a primary spontaneous pneumothorax.",
        ),
        study("Chest X-ray PA", "PA chest radiograph: moderate right pneumothorax.",
              [{"key": "pneumothorax", "laterality": "right", "severity": "moderate",
                "mask_png_b64": painted("crescent", cx=70, cy=105, rx=48, ry=80)}], seed=7),
    ),
    (
        CaseContent(
            title="Breathless after a week of fever", patient_age=67, patient_sex="F",
            presenting_complaint="Increasing breathlessness and a dull left chest ache over a week.",
            history={"onset": "Gradual over 7 days, after a chest infection.", "past_history": "Hypertension.",
                     "medications": "Amlodipine 5 mg daily.", "smoking": "Never.", "allergies": "Penicillin (rash)."},
            vitals={"heart_rate": 96, "resp_rate": 24, "bp_systolic": 138, "bp_diastolic": 84,
                    "temperature": 37.9, "spo2": 93},
            exam="Stony dull percussion and absent breath sounds at the left base.",
            diagnosis_id="disease:pleural_effusion", diagnosis="Left pleural effusion",
            diagnosis_synonyms="pleural effusion, parapneumonic effusion",
            differentials=["disease:lobar_pneumonia", "disease:atelectasis"],
            teaching_point="Fluid collects in the dependent pleural space: a blunted costophrenic angle with a "
                           "meniscus rising laterally.",
        ),
        study("Chest X-ray PA", "Erect PA chest radiograph with a moderate left pleural effusion.",
              [{"key": "effusion", "laterality": "left", "severity": "moderate",
                "mask_png_b64": painted("base", cx=182, cy=178, rx=44, ry=36)}], seed=21),
    ),
    (
        CaseContent(
            title="An incidental spot on the lung", patient_age=58, patient_sex="M",
            presenting_complaint="Referred after a nodule was mentioned on a pre-operative film.",
            history={"smoking": "30 pack-years, stopped 2 years ago.", "past_history": "Inguinal hernia.",
                     "family": "Father had lung cancer at 70.", "medications": "None."},
            vitals={"heart_rate": 72, "resp_rate": 14, "bp_systolic": 132, "bp_diastolic": 82,
                    "temperature": 36.6, "spo2": 97},
            exam="Normal chest examination. No clubbing or lymphadenopathy.",
            diagnosis_id="disease:solitary_pulmonary_nodule", diagnosis="Solitary pulmonary nodule",
            diagnosis_synonyms="lung nodule, pulmonary nodule, coin lesion",
            differentials=["disease:lung_cancer", "disease:pulmonary_tuberculosis"],
            teaching_point="A solitary nodule in a former heavy smoker needs comparison with old films and "
                           "risk-based follow-up (Fleischner / BTS).",
        ),
        study("Chest X-ray PA", "PA chest radiograph: 15 mm nodule in the left upper zone.",
              [{"key": "nodule", "laterality": "left", "location": "LUL", "size_mm": 15.0, "severity": "mild",
                "mask_png_b64": painted("disc", cx=176, cy=84, rx=9, ry=9)}], seed=33),
    ),
    (
        CaseContent(
            title="Fever, cough and right-sided chest pain", patient_age=45, patient_sex="F",
            presenting_complaint="Three days of fever, rusty sputum and right pleuritic pain.",
            history={"onset": "Three days ago with rigors.", "character": "Sharp pain on deep breaths.",
                     "past_history": "None.", "medications": "Paracetamol.", "smoking": "Never.",
                     "social": "Primary-school teacher."},
            vitals={"heart_rate": 112, "resp_rate": 26, "bp_systolic": 118, "bp_diastolic": 70,
                    "temperature": 39.1, "spo2": 91},
            exam="Bronchial breathing and crackles at the right base.",
            diagnosis_id="disease:lobar_pneumonia", diagnosis="Right lower lobe pneumonia",
            diagnosis_synonyms="lobar pneumonia, pneumonia, community-acquired pneumonia, CAP",
            differentials=["disease:pleural_effusion", "disease:pulmonary_embolism"],
            teaching_point="Air bronchograms inside an opacity mean the airspaces are filled, not collapsed.",
        ),
        study("Chest X-ray PA", "PA chest radiograph: right lower lobe consolidation with air bronchograms.",
              [{"key": "consolidation", "laterality": "right", "location": "RLL", "severity": "moderate",
                "mask_png_b64": painted("disc", cx=78, cy=160, rx=30, ry=26)}], seed=45),
    ),
    (
        CaseContent(
            title="Swollen ankles and breathless at night", patient_age=78, patient_sex="M",
            presenting_complaint="Breathless on lying flat for two weeks, waking up gasping at night.",
            history={"past_history": "Two myocardial infarctions; type 2 diabetes.",
                     "medications": "Bisoprolol, ramipril, metformin.", "smoking": "Ex-smoker.",
                     "onset": "Gradual over two weeks."},
            vitals={"heart_rate": 98, "resp_rate": 24, "bp_systolic": 152, "bp_diastolic": 90,
                    "temperature": 36.7, "spo2": 90},
            exam="Raised JVP, bibasal crackles, pitting oedema to the knees.",
            diagnosis_id="disease:congestive_heart_failure", diagnosis="Congestive heart failure",
            diagnosis_synonyms="heart failure, cardiac failure, CHF, pulmonary oedema",
            differentials=["disease:copd", "disease:community_acquired_pneumonia"],
            teaching_point="An enlarged heart with upper-lobe diversion, perihilar haze and septal lines: "
                           "the radiograph of left heart failure.",
        ),
        study("Chest X-ray PA", "PA chest radiograph: cardiomegaly with pulmonary oedema.",
              [{"key": "cardiomegaly", "laterality": "none", "severity": "moderate",
                "mask_png_b64": painted("disc", cx=140, cy=150, rx=58, ry=42)},
               {"key": "edema", "laterality": "bilateral", "severity": "moderate",
                "mask_png_b64": union(painted("disc", cx=92, cy=118, rx=30, ry=34),
                                      painted("disc", cx=168, cy=118, rx=30, ry=34))}], seed=57),
    ),
    (
        CaseContent(
            title="Sudden severe abdominal pain", patient_age=52, patient_sex="M",
            presenting_complaint="Sudden severe upper abdominal pain since this morning, now everywhere.",
            history={"onset": "Sudden, six hours ago.", "past_history": "Dyspepsia for months.",
                     "medications": "Ibuprofen for back pain.", "social": "Drinks 30 units a week."},
            vitals={"heart_rate": 118, "resp_rate": 22, "bp_systolic": 104, "bp_diastolic": 64,
                    "temperature": 37.6, "spo2": 96},
            exam="Rigid, silent abdomen; lies still.",
            diagnosis_id="disease:perforated_peptic_ulcer", diagnosis="Perforated peptic ulcer",
            diagnosis_synonyms="perforated ulcer, perforated viscus, pneumoperitoneum, free air",
            differentials=["disease:acute_pancreatitis", "disease:acute_cholecystitis"],
            teaching_point="An erect chest film shows free air under the diaphragm: perforation until proved "
                           "otherwise.",
        ),
        study("Chest X-ray PA (erect)", "Erect PA chest radiograph: free air under both hemidiaphragms.",
              [{"key": "pneumoperitoneum", "laterality": "none", "severity": "moderate",
                "mask_png_b64": union(painted("cap", cx=78, cy=196, rx=40, ry=9),
                                      painted("cap", cx=180, cy=206, rx=38, ry=9))}], seed=69),
    ),
]


class Command(BaseCommand):
    help = "Create the demo organisation, people, cohorts and six published cases (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        organisation, _ = Organisation.objects.get_or_create(name="Demo Medical School")
        cohorts = {name: Cohort.objects.get_or_create(organisation=organisation, name=name)[0]
                   for name in (GROUP_A, GROUP_B)}
        users = {}
        for username, first, last, role, cohort in PEOPLE:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "last_name": last, "role": role, "organisation": organisation},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            if cohort:
                cohorts[cohort].members.add(user)
            users[username] = user
        kg_version = default_graph().kg_version
        made = 0
        for content, study_input in DEMO_CASES:
            if CaseVersion.objects.filter(title=content.title).exists():
                continue
            content = CaseContent(**{**vars(content), "kg_version": kg_version})
            version = case_create(author=users["educator"], content=content, studies=[study_input])
            case_publish(version=version, cohorts=[cohorts[GROUP_A]])
            made += 1
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready ({made} new cases). Log in as educator, instructor, student1, student2 or "
            f"student3 (password {DEMO_PASSWORD!r})."
        ))
