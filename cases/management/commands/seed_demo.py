"""Demo data for `make run`: one organisation, an educator, an instructor, two students in one
cohort, a student in another cohort, and a published chest X-ray case. Safe to run again."""

from django.core.management.base import BaseCommand
from django.db import transaction

from cases.models import Case
from cases.services import CaseInput, StudyInput, case_create, case_publish
from simulator.accounts.models import Cohort, Organisation, Role, User

DEMO_PASSWORD = "radsim-demo"

PEOPLE = [
    ("educator", "Elena", "Ortiz", Role.EDUCATOR, None),
    ("instructor", "Ivan", "Novak", Role.INSTRUCTOR, "Year 3 — Group A"),
    ("student1", "Sam", "Reyes", Role.STUDENT, "Year 3 — Group A"),
    ("student2", "Tara", "Kim", Role.STUDENT, "Year 3 — Group A"),
    ("student3", "Omar", "Haddad", Role.STUDENT, "Year 3 — Group B"),
]

DEMO_CASE = CaseInput(
    title="Sudden breathlessness in a tall young man",
    patient_age=24,
    patient_sex="M",
    presenting_complaint="Sudden sharp right-sided chest pain and breathlessness that began while at rest.",
    history="Onset two hours ago while watching television. Pain is sharp, worse on breathing in. "
    "Smokes 10 cigarettes a day. No past illnesses, no medications, no allergies.",
    diagnosis="Right pneumothorax",
    diagnosis_synonyms="pneumothorax, right-sided pneumothorax, primary spontaneous pneumothorax, PTX, collapsed lung",
    teaching_point="Look for the visceral pleural line with no lung markings beyond it. A tall, thin young smoker "
    "is the classic patient for a primary spontaneous pneumothorax.",
)
DEMO_STUDY = StudyInput(
    title="Chest X-ray PA",
    modality="cxr",
    view="PA",
    prompt="PA chest radiograph: right-sided pneumothorax, moderate.",
    findings=[{"key": "pneumothorax", "laterality": "right", "severity": "moderate"}],
    seed_policy="fixed",
    seed=7,
)


class Command(BaseCommand):
    help = "Create the demo organisation, people, cohorts and a published case (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        organisation, _ = Organisation.objects.get_or_create(name="Demo Medical School")
        cohorts = {}
        for name in ("Year 3 — Group A", "Year 3 — Group B"):
            cohorts[name], _ = Cohort.objects.get_or_create(organisation=organisation, name=name)
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
        if not Case.objects.filter(title=DEMO_CASE.title).exists():
            case = case_create(author=users["educator"], case=DEMO_CASE, study=DEMO_STUDY)
            case_publish(case=case, cohorts=[cohorts["Year 3 — Group A"]])
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready. Log in as educator, instructor, student1, student2 or student3 "
            f"(password {DEMO_PASSWORD!r})."
        ))
