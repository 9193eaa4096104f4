"""Scoped reads of the people registers that need more than one area path (ADR 0009)."""

from fengqiao.people.models import PersonIdentityConflict


def identity_conflicts(scope, queryset=None):
    """The identity conflicts whose two persons both lie in `scope`: a reviewer must be able to see both records
    (the common area or above), so a town's staff never learn that their person's ID number is registered in
    another town. Two `LIKE` conditions in the one query; no per-row checks."""
    queryset = PersonIdentityConflict.objects.all() if queryset is None else queryset
    return scope.filter(scope.filter(queryset, "person__area__path"), "existing__area__path")
