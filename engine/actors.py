"""Who is acting. The engine does not know passwords or sessions; callers (web, CLI, worker)
pass an Actor and the engine checks its roles and agency subtree on every task action."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    username: str
    roles: frozenset[str] = field(default_factory=frozenset)
    # Agencies this actor may act in: where the staff member works. Acting is never inherited
    # down the tree (a commune leader does not sign for the commune police).
    agency_ids: frozenset[int] = field(default_factory=frozenset)
    # Agencies whose cases this actor may read: its agency and everything below it.
    readable_agency_ids: frozenset[int] = field(default_factory=frozenset)
    is_system: bool = False

    def can_act_in(self, role: str, agency_id: int) -> bool:
        return self.is_system or (role in self.roles and agency_id in self.agency_ids)

    def can_read(self, *agency_ids: int) -> bool:
        """A case is readable when any of its agencies (receiving, resolving) is in reach."""
        reach = self.agency_ids | self.readable_agency_ids
        return self.is_system or any(a in reach for a in agency_ids)


SYSTEM = Actor("system", is_system=True)
APPLICANT = Actor("applicant")
