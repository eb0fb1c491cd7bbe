"""The permission matrix, written as data.

`MATRIX[action][role]` is the set of relations (between the user and the object) under which the
role may do the action. A role missing from an action's row is refused outright (403); a role that
has the action under other relations is refused with 404, so outsiders cannot probe what exists.
Tests are generated from this table (tests/simulator/accounts/test_permission_matrix.py).

Relations (computed in access.py):
  author  - the educator who wrote the case
  org     - an educator of the same organisation as the case's author (co-author)
  cohort  - a member of a cohort the case is published to / the encounter belongs to
  owner   - the student who owns the encounter, or the user who requested the job
  member  - a member of the cohort itself
  any     - no object (creating something new)
"""

from __future__ import annotations

EDUCATOR, INSTRUCTOR, STUDENT = "educator", "instructor", "student"
ROLES = (EDUCATOR, INSTRUCTOR, STUDENT)

MATRIX: dict[str, dict[str, frozenset[str]]] = {
    "case.create": {EDUCATOR: frozenset({"any"})},
    "kg.browse": {EDUCATOR: frozenset({"any"}), INSTRUCTOR: frozenset({"any"}), STUDENT: frozenset({"any"})},
    "case.edit": {EDUCATOR: frozenset({"author", "org"})},
    "case.play": {STUDENT: frozenset({"cohort"})},
    "encounter.view": {STUDENT: frozenset({"owner"}), INSTRUCTOR: frozenset({"cohort"})},
    "encounter.act": {STUDENT: frozenset({"owner"})},
    "encounter.replay": {INSTRUCTOR: frozenset({"cohort"})},
    "job.view": {STUDENT: frozenset({"owner"}), INSTRUCTOR: frozenset({"cohort"}), EDUCATOR: frozenset({"owner"})},
    "cohort.review": {INSTRUCTOR: frozenset({"member"})},
}

# Every relation an action can be asked under (for generated tests and for `relation_of`).
RELATIONS: dict[str, tuple[str, ...]] = {
    "case.create": ("any",),
    "kg.browse": ("any",),
    "case.edit": ("author", "org", "outside"),
    "case.play": ("cohort", "outside"),
    "encounter.view": ("owner", "cohort", "outside"),
    "encounter.act": ("owner", "cohort", "outside"),
    "encounter.replay": ("owner", "cohort", "outside"),
    "job.view": ("owner", "cohort", "outside"),
    "cohort.review": ("member", "outside"),
}


class Decision:
    ALLOW = 200
    NOT_FOUND = 404
    FORBIDDEN = 403


def decide(action: str, role: str, relations: set[str] | frozenset[str]) -> int:
    """200 when allowed; 403 when the role never may; 404 when it may, but not on this object."""
    row = MATRIX[action]
    if role not in row:
        return Decision.FORBIDDEN
    return Decision.ALLOW if row[role] & set(relations) else Decision.NOT_FOUND
