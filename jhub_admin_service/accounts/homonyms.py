"""Telling apart two people of the same class with the same name. Pure.

Class lists hold twins and namesakes: two "Léa Martin" in 2nde 3. Their slips and their rows of
the accounts list carry what tells them apart: the birth date when the list gave one, else the
school's number for them (SIECLE's INE, the ENT's identifier). The login, on every slip and row
already, always differs. Only homonyms show it: a birth date is not printed for everyone.
"""
import collections
from typing import Iterable, Mapping

from .logins import fold_ascii


def name_key(first_name: str, last_name: str) -> tuple:
    """Names as a person reads them: "Léa MARTIN" and "lea martin" are the same."""
    return tuple(" ".join(fold_ascii(name).lower().split()) for name in (first_name, last_name))


def distinguishers(people: Iterable[Mapping]) -> dict:
    """{login: ("birth_date" | "external_id" | "login", value)} for each person who shares both
    names with someone else of the same classes; people are mappings with login, first_name,
    last_name, classes, and optionally birth_date and external_id."""
    people = list(people)
    alike = collections.Counter(key(p) for p in people)
    found = {}
    for p in people:
        if alike[key(p)] < 2 or not (p.get("first_name") or p.get("last_name")):
            continue
        for field in ("birth_date", "external_id", "login"):
            if p.get(field):
                found[p["login"]] = (field, p[field])
                break
    return found


def key(person: Mapping) -> tuple:
    return (tuple(sorted(person.get("classes") or ())),) + name_key(person.get("first_name", ""),
                                                                   person.get("last_name", ""))
