"""What the credential slips print. Pure: the credentials of an operation in, sheets out.

- A class's pupils share a sheet (the page starts a new sheet of paper); teachers and admins
  come after, on sheets of their own marked with the role, never among a class's pupils.
- Namesakes of a class carry what tells them apart (homonyms.py).
- Each value gets the largest font size, up to the usual one, at which it fits its line in one
  piece: an address or a login is never broken in the middle. An address too long to be read on
  one line breaks only after a "/".
"""
import re
from dataclasses import dataclass, field

from .homonyms import distinguishers
from .registry import holds_admin

#: The width of a value's line on a slip, in millimetres: an A4 page with 8 mm margins holds two
#: slips across (97 mm), less their 6 mm padding; a login or password sits beside its label.
ADDRESS_WIDTH_MM = 82.0
VALUE_WIDTH_MM = 58.0
#: A monospace character's advance (DejaVu Sans Mono, Liberation Mono: 0.6 em), with a margin,
#: and a point in millimetres.
MONO_EM = 0.63
MM_PER_POINT = 0.3528
LARGEST_POINTS, SMALLEST_POINTS = 13.0, 6.0
#: Below this size an address is rather printed on two lines, broken after a "/".
READABLE_POINTS = 8.0
#: The order of the sheets after the classes'; the role is printed on each of their slips.
STAFF_ROLES = ("teacher", "admin")


def fitting_points(text: str, width_mm: float) -> float:
    """The font size (points) at which text fits width_mm on one line, within the bounds."""
    points = width_mm / (max(1, len(text)) * MONO_EM * MM_PER_POINT)
    return max(SMALLEST_POINTS, min(LARGEST_POINTS, round(points - 0.05, 1)))


def address_layout(address: str) -> tuple:
    """(points, parts): the address on one line if it fits at a readable size; else in pieces
    broken only after a "/" ("https://", "lycee.fr/", "jupyter/"), sized so that the longest
    piece fits a line."""
    whole = fitting_points(address, ADDRESS_WIDTH_MM)
    if whole >= READABLE_POINTS:
        return whole, [address]
    parts = [part for part in re.split(r"(?<=/)(?!/)", address) if part]
    return max(whole, fitting_points(max(parts, key=len), ADDRESS_WIDTH_MM)), parts


@dataclass
class Slip:
    login: str
    password: str
    first_name: str
    last_name: str
    classes: list
    #: "student", "teacher" or "admin" (a teacher with admin rights is printed as an admin).
    role: str
    #: ("birth_date" | "external_id" | "login", value) for a namesake of the same class, else None.
    tell_apart: tuple = None
    login_points: float = LARGEST_POINTS
    password_points: float = LARGEST_POINTS

    @property
    def name_words(self) -> list:
        """The name's words, each printed in one piece ("FONTAINE-BERENGER" never broken at its
        hyphen); the login when the list gave no name."""
        return f"{self.first_name} {self.last_name}".split() or [self.login]


@dataclass
class Sheet:
    #: "class" for a class's pupils (or pupils without a class), else the staff role.
    kind: str
    title: str
    slips: list = field(default_factory=list)


@dataclass
class SlipBook:
    address: str
    address_points: float
    address_parts: list
    sheets: list


def slip_book(credentials: list, address: str, others: list = ()) -> SlipBook:
    """The sheets to print, from credential dicts (engine.credential). others: the other people
    of the registry (mappings as credentials), so that a twin whose password alone was reset is
    told apart from the one whose slip is not printed."""
    printed = {c["login"] for c in credentials}
    apart = distinguishers([*credentials, *(o for o in others if o["login"] not in printed)])
    by_sheet = {}
    for c in sorted(credentials, key=lambda c: (c["last_name"].lower(), c["first_name"].lower(), c["login"])):
        role = "admin" if holds_admin(c["role"], c.get("hub_admin", False)) else c["role"]
        slip = Slip(login=c["login"], password=c["password"], first_name=c["first_name"], last_name=c["last_name"],
                    classes=list(c["classes"]), role=role, tell_apart=apart.get(c["login"]),
                    login_points=fitting_points(c["login"], VALUE_WIDTH_MM),
                    password_points=fitting_points(c["password"], VALUE_WIDTH_MM))
        sheet = ("class", ", ".join(c["classes"])) if role == "student" else (role, "")
        by_sheet.setdefault(sheet, Sheet(*sheet)).slips.append(slip)
    order = {kind: rank for rank, kind in enumerate(("class",) + STAFF_ROLES)}
    # Classes by name, pupils without a class after them, then the staff.
    sheets = sorted(by_sheet.values(), key=lambda s: (order.get(s.kind, len(order)), not s.title, s.title))
    points, parts = address_layout(address)
    return SlipBook(address=address, address_points=points, address_parts=parts, sheets=sheets)
