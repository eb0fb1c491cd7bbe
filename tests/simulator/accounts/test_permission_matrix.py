"""Allow/deny tests generated from the permission matrix (simulator/accounts/permissions.py).

For every action, every role and every relation the matrix knows, build a user of that role in that
relation to a fresh object, hit the real endpoint (HTTP, and the websocket for encounter.view) and
expect what the matrix says: allowed, 404 (not yours) or 403 (never for your role)."""

from __future__ import annotations

import itertools

import pytest
from channels.testing import WebsocketCommunicator

from simulator.accounts.permissions import MATRIX, RELATIONS, ROLES, Decision, decide
from simulator.encounters.services import encounter_start
from simulator.imaging.models import GenerationJob

CASES = [
    (action, role, relation)
    for action in MATRIX
    for role, relation in itertools.product(ROLES, RELATIONS[action])
]


def _expected(action: str, role: str, relation: str) -> int:
    return decide(action, role, {relation})


def _job_for(world, encounter, requested_by):
    return GenerationJob.objects.create(
        requested_by=requested_by, encounter=encounter, conditions={}, seed=1, steps=4, sampler="ddim", guidance=1.0
    )


def situation(world, make_user, action: str, role: str, relation: str):
    """(user, method, url) putting a fresh `role` user in `relation` to the object of `action`."""
    n = f"{action.replace('.', '_')}_{role}_{relation}"
    if action == "case.create":
        return make_user(n, role, world.north), "get", "/cases/new/"
    if action == "kg.browse":
        return make_user(n, role, world.north), "get", "/kg/?q=effusion"
    if action == "case.edit":
        user = make_user(n, role, world.south if relation == "outside" else world.north)
        if relation == "author":
            world.case.created_by = user
            world.case.save()
        return user, "get", f"/cases/{world.case.pk}/edit/"
    if action == "case.play":
        cohort = world.cohort_a if relation == "cohort" else world.cohort_b
        return make_user(n, role, world.north, [cohort]), "post", f"/cases/{world.case.pk}/open/"
    if action == "cohort.review":
        cohort = world.cohort_a if relation == "member" else world.cohort_b
        return make_user(n, role, world.north, [cohort]), "get", f"/review/cohorts/{world.cohort_a.pk}/"
    # encounter and job actions: the object is an encounter of cohort A
    if relation == "owner":
        user = make_user(n, role, world.north, [world.cohort_b])
        encounter = encounter_start(case=world.case, student=world.sam)
        if action.startswith("encounter"):
            encounter.student = user  # the owner, whatever their role, to test the role column
            encounter.save()
    else:
        cohort = world.cohort_a if relation == "cohort" else world.cohort_b
        user = make_user(n, role, world.north, [cohort])
        encounter = encounter_start(case=world.case, student=world.sam)
    if action == "job.view":
        job = _job_for(world, encounter, user if relation == "owner" else world.sam)
        return user, "get", f"/imaging/jobs/{job.pk}/"
    url = {
        "encounter.view": f"/ws/encounters/{encounter.pk}/imaging/",
        "encounter.act": f"/encounters/{encounter.pk}/",
        "encounter.replay": f"/review/encounters/{encounter.pk}/",
    }[action]
    return user, "ws" if action == "encounter.view" else "get", url


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action,role,relation", CASES, ids=["-".join(c) for c in CASES])
def test_http_and_socket_follow_the_matrix(world, make_user, client, action, role, relation):
    user, method, url = situation(world, make_user, action, role, relation)
    expected = _expected(action, role, relation)
    if method == "ws":
        import asyncio

        from simulator.routing import websocket_urlpatterns
        from channels.routing import URLRouter

        async def connect():
            communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), url)
            communicator.scope["user"] = user
            connected, code = await communicator.connect()
            await communicator.disconnect()
            return connected, code

        connected, code = asyncio.run(connect())
        if expected == Decision.ALLOW:
            assert connected, f"{role} ({relation}) should open {url}"
        else:
            assert not connected and code == 4000 + expected
        return
    client.force_login(user)
    response = getattr(client, method)(url)
    if expected == Decision.ALLOW:
        assert response.status_code in (200, 302), f"{role} ({relation}) should reach {url}"
    else:
        assert response.status_code == expected, f"{role} ({relation}) on {url}"


def test_every_action_has_a_situation():
    assert set(MATRIX) == set(RELATIONS)
    assert len(CASES) >= 40


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_login(world, client):
    for url in ("/", "/cases/new/", f"/cases/{world.case.pk}/edit/", "/review/"):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/login/")
