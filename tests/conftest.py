"""Named personas and a small world shared by the Django tests.

Organisation "North" has cohort A (instructor ivan, students sam and tara) and cohort B (instructor
bea, student omar); educator elena wrote a case published to cohort A; educator emil is her co-author
in North; educator olga is from another organisation."""

from __future__ import annotations

import pytest

from cases.services import case_create, case_publish
from tests.factories import CASE_INPUT, STUDY_INPUT

class World:
    pass


@pytest.fixture
def make_user(db):
    from simulator.accounts.models import User

    def make(username: str, role: str, organisation=None, cohorts=()):
        user = User.objects.create_user(username=username, password="pw-" + username, role=role,
                                        organisation=organisation)
        for cohort in cohorts:
            cohort.members.add(user)
        return user

    return make


@pytest.fixture
def world(db, make_user):
    from simulator.accounts.models import Cohort, Organisation

    w = World()
    w.north = Organisation.objects.create(name="North")
    w.south = Organisation.objects.create(name="South")
    w.cohort_a = Cohort.objects.create(organisation=w.north, name="A")
    w.cohort_b = Cohort.objects.create(organisation=w.north, name="B")
    w.elena = make_user("elena", "educator", w.north)
    w.emil = make_user("emil", "educator", w.north)
    w.olga = make_user("olga", "educator", w.south)
    w.ivan = make_user("ivan", "instructor", w.north, [w.cohort_a])
    w.bea = make_user("bea", "instructor", w.north, [w.cohort_b])
    w.sam = make_user("sam", "student", w.north, [w.cohort_a])
    w.tara = make_user("tara", "student", w.north, [w.cohort_a])
    w.omar = make_user("omar", "student", w.north, [w.cohort_b])
    w.version = case_create(author=w.elena, content=CASE_INPUT, studies=[STUDY_INPUT])
    case_publish(version=w.version, cohorts=[w.cohort_a])
    w.case = w.version.case
    w.study = w.version.studies.get()
    return w


@pytest.fixture
def sam_encounter(world):
    from simulator.encounters.services import encounter_start

    return encounter_start(case=world.case, student=world.sam)


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread until the
    session ends, and tests that call asyncio.run() must not come after it."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
