"""Which groups the registry asks for: one per role and one per class.

The same membership is kept twice, under two namings: hub groups (``students``, ``class-t-nsi``)
and local groups (``jh-students``, ``jh-class-t-nsi``; prefixed so that they never collide with a
system group). Only groups of the naming are ever changed.
"""
from dataclasses import dataclass
from typing import Iterable

from .logins import LOCAL_GROUP_PREFIX, class_slug
from .registry import Account


@dataclass(frozen=True)
class GroupNaming:
    role_groups: dict  # role -> group name
    class_prefix: str

    def class_group(self, klass: str) -> str:
        return self.class_prefix + class_slug(klass)

    def is_class_group(self, name: str) -> bool:
        return name.startswith(self.class_prefix)

    def is_managed(self, name: str) -> bool:
        return name in self.role_groups.values() or name.startswith(self.class_prefix)

    def membership(self, accounts: Iterable[Account], existing: Iterable[str] = ()) -> dict:
        """{group: set(logins)} for enabled accounts; managed groups in existing nobody needs are emptied."""
        groups = {name: set() for name in self.role_groups.values()}
        for a in accounts:
            if a.disabled:
                continue
            groups[self.role_groups[a.role]].add(a.login)
            for klass in a.classes:
                groups.setdefault(self.class_group(klass), set()).add(a.login)
        for name in existing:
            if self.is_managed(name):
                groups.setdefault(name, set())
        return groups


HUB_GROUPS = GroupNaming({"student": "students", "teacher": "teachers", "admin": "admins"}, "class-")
LOCAL_GROUPS = GroupNaming({role: f"{LOCAL_GROUP_PREFIX}{role}s" for role in ("student", "teacher", "admin")},
                           f"{LOCAL_GROUP_PREFIX}class-")
