import pytest
from django.core.management import call_command

from cases.models import CaseVersion
from simulator.accounts.models import Cohort, User


@pytest.mark.django_db
def test_demo_data_is_complete_and_idempotent():
    call_command("seed_demo")
    call_command("seed_demo")
    published = CaseVersion.objects.filter(status="published")
    assert published.count() == 6
    assert len({v.diagnosis_id for v in published}) == 6
    for version in published:
        study = version.studies.get()
        assert study.modality == "cxr" and study.findings
        assert all(f.get("mask_png_b64") for f in study.findings), version.title
    group_a, group_b = Cohort.objects.order_by("name")
    assert set(group_a.members.values_list("username", flat=True)) == {"instructor", "student1", "student2"}
    assert set(group_b.members.values_list("username", flat=True)) == {"student3"}
    assert User.objects.get(username="educator").check_password("radsim-demo")
