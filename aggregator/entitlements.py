"""Who may see what: the one rule, as pure functions (written down in README "Entitlements").

- External items are visible to everyone signed in and follow the account in rep feeds.
- An internal item belongs to its *owning accounts*: the prospects set by the source
  rule, the export's account column or a person's correction when there are any,
  otherwise every prospect it is tagged with. An internal item with no account at
  all belongs to nobody in particular and is shown only to managers and support.
- A rep sees an internal item only when every owning account is one of theirs.
- Managers and support see everything. Notes follow the same rule as internal items
  of their prospect.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

#: Tag origins that say which account an item *belongs to*, rather than mentions.
OWNING_ORIGINS = frozenset({"source", "export", "correction"})
PRIVILEGED_ROLES = frozenset({"manager", "support"})


@dataclass(frozen=True)
class Viewer:
    """Whoever is looking: a role, and for reps the accounts assigned to them."""

    role: str  # "support" | "manager" | "rep"
    accounts: frozenset[str] = frozenset()

    @property
    def privileged(self) -> bool:
        return self.role in PRIVILEGED_ROLES


def owning_accounts(visibility: str, prospect_tags: Iterable[tuple[str, str]]) -> frozenset[str]:
    """The accounts an item belongs to, from its (prospect, origin) tags."""
    tags = list(prospect_tags)
    owned = {value for value, origin in tags if origin in OWNING_ORIGINS}
    return frozenset(owned or {value for value, _ in tags})


def may_see_item(viewer: Viewer, visibility: str, prospect_tags: Iterable[tuple[str, str]]) -> bool:
    """Whether ``viewer`` may see an item with this visibility and these (prospect, origin) tags."""
    if visibility != "internal" or viewer.privileged:
        return True
    owners = owning_accounts(visibility, prospect_tags)
    return bool(owners) and owners <= viewer.accounts


def may_see_prospect_internals(viewer: Viewer, prospect_id: str) -> bool:
    """Notes and internal material of a prospect: its reps, managers and support."""
    return viewer.privileged or prospect_id in viewer.accounts


def rep_accounts(accounts: Collection[tuple[str, str]]) -> frozenset[str]:
    """Prospect ids from a rep's (prospect, stage) account list."""
    return frozenset(p for p, _ in accounts)
