"""What an ENT says about the person who logged in, whatever its protocol, as one EntIdentity.

The families of French ENTs name the same facts differently:
- entcore (Open ENT NG: MonLycée.net, Lycée Connecté, PCN): its OAuth2 userinfo gives
  ``userId``, ``externalId`` (the identifier of the academy's directory, as its exports carry it),
  ``login``, ``firstName``, ``lastName``, ``type`` (ELEVE, ENSEIGNANT, PERSEDUCNAT, PERSRELELEVE,
  or Student, Teacher, Personnel, Relative, Guest) and ``uai``;
- OpenID Connect (Skolengo / Kosmos and others): ``sub``, ``given_name``, ``family_name``,
  ``preferred_username``, and the ENT's own claims for the rest;
- CAS: the user, and attributes named after the national directory's schema (``ENTPersonJointure``,
  ``ENTPersonProfils``, ``ENTPersonStructRattachRNE``...).
Each fact is read from the first of its names that the answer holds.
"""
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable, Mapping

PUPIL, STAFF, OTHER, UNKNOWN = "pupil", "staff", "other", "unknown"

#: Each fact, and the names that the ENT families give it (the first one present wins).
NAMES = {
    "subject": ("userId", "sub", "id", "uid", "user"),
    "external_id": ("externalId", "external_id", "ENTPersonJointure", "ENTEleveINE", "ine", "siecle_id"),
    "login": ("login", "preferred_username", "username", "ENTPersonLogin", "user"),
    "first_name": ("firstName", "given_name", "givenName", "prenom", "ENTPersonPrenom"),
    "last_name": ("lastName", "family_name", "sn", "nom", "ENTPersonNom"),
    "type": ("type", "profile", "profiles", "ENTPersonProfils", "categories", "user_type"),
    "uai": ("uai", "uais", "ENTPersonStructRattachRNE", "rne", "school_uai"),
}

#: ENT types, folded (no case, accents, spaces or underscores): who is a pupil, who is staff.
#: Any other type (parents, guests) is neither: it never matches an account.
PUPIL_TYPES = {"eleve", "student", "pupil", "national1", "elv", "leleve"}
STAFF_TYPES = {"enseignant", "teacher", "personnel", "perseducnat", "persetab", "national3", "national4",
               "national5", "national6", "ens", "staff", "dir", "documentaliste"}


def fold(text: str) -> str:
    """Lower case, no accents, no spaces, dashes or underscores: how two spellings compare."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    return "".join(ch for ch in decomposed.lower() if ch.isalnum() and not unicodedata.combining(ch))


def kind_of(types: Iterable[str]) -> str:
    """PUPIL, STAFF, OTHER, or UNKNOWN when the ENT gave no type. A person with both a pupil's
    and a staff profile is a pupil (the least rights); a parent who is also staff is staff."""
    folded = {fold(t) for t in types if str(t).strip()}
    if not folded:
        return UNKNOWN
    if folded & PUPIL_TYPES:
        return PUPIL
    if folded & STAFF_TYPES:
        return STAFF
    return OTHER


def _values(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    text = str(value).strip()
    # CAS attributes and some userinfo answers join several values in one string.
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()] if text else []


def _first(fields: Mapping, names: Iterable[str]) -> list:
    for name in names:
        values = _values(fields.get(name))
        if values:
            return values
    return []


@dataclass(frozen=True)
class EntIdentity:
    #: The ENT's own stable identifier for the person: what a link to an account remembers.
    subject: str
    #: The identifier the school's lists carry (the ENT export's, the directory's): what matches.
    external_id: str = ""
    login: str = ""
    first_name: str = ""
    last_name: str = ""
    kind: str = UNKNOWN
    types: tuple = ()
    uais: tuple = ()
    #: Everything the ENT answered, for the admin's eyes (the Test button, the dashboard).
    fields: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def identifiers(self) -> tuple:
        """What a class list may carry of this person: the directory's identifier, and the ENT's
        own (an entcore export's "Id" is its userId)."""
        return tuple(i for i in (self.external_id, self.subject) if i)

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part) or self.login or self.subject

    def to_json(self) -> dict:
        return {"subject": self.subject, "external_id": self.external_id, "login": self.login,
                "first_name": self.first_name, "last_name": self.last_name, "kind": self.kind,
                "types": list(self.types), "uais": list(self.uais), "fields": self.fields}


def identity_from_json(data: Mapping) -> EntIdentity:
    """The EntIdentity that to_json() wrote (an unmatched identity kept for the admin)."""
    return EntIdentity(subject=data["subject"], external_id=data.get("external_id", ""), login=data.get("login", ""),
                       first_name=data.get("first_name", ""), last_name=data.get("last_name", ""),
                       kind=data.get("kind", UNKNOWN), types=tuple(data.get("types", ())),
                       uais=tuple(data.get("uais", ())), fields=dict(data.get("fields", {})))


class NoSubject(ValueError):
    """The ENT's answer names nobody."""


def identity_from(fields: Mapping, names: Mapping = None) -> EntIdentity:
    """The EntIdentity of an ENT's answer (userinfo, ID token claims, or a CAS user with its
    attributes merged in). ``names`` overrides the names of some facts ({"external_id": "ine"})."""
    names = {**NAMES, **{k: (v,) if isinstance(v, str) else tuple(v) for k, v in (names or {}).items() if v}}
    subject = _first(fields, names["subject"])
    if not subject:
        raise NoSubject("the ENT's answer has no identifier (%s)" % ", ".join(names["subject"]))
    types = tuple(_first(fields, names["type"]))
    one = lambda fact: (_first(fields, names[fact]) or [""])[0]  # noqa: E731
    shown = {str(k): v for k, v in fields.items() if isinstance(v, (str, int, float, bool, list, type(None)))}
    return EntIdentity(subject=subject[0], external_id=one("external_id"), login=one("login"),
                       first_name=one("first_name"), last_name=one("last_name"), kind=kind_of(types),
                       types=types, uais=tuple(u.upper() for u in _first(fields, names["uai"])), fields=shown)
