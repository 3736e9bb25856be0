"""What closing a school year does, decided from the registry and the courses alone: no effect
here, so the preview that the admin reads is the plan that the job then runs.

Closing keeps the year (a verified export named after it, each course's grades sheet, each
course's submissions and exchange folder archived) and then makes room for the next: the pupils
marked as leaving go (each with a ZIP of their work), every pupil leaves their classes and the
courses' lists of pupils, teachers leave the classes they were given, and the class groups go. Teachers and admins are never removed by a
rollover, and courses keep their teacher, sources, settings and the class names they teach: the
next year's lists fill those classes again.
"""
import datetime
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from ..accounts.registry import Account
from ..courses.rules import Course, members

#: The month from which a date belongs to the school year that starts that calendar year
#: (September); a year closed in July or August is the one that started the September before.
FIRST_MONTH = 9


def school_year_of(day: datetime.date) -> str:
    """The school year a date belongs to, as French schools write it: "2026-2027"."""
    first = day.year if day.month >= FIRST_MONTH else day.year - 1
    return f"{first}-{first + 1}"


@dataclass
class Leaver:
    login: str
    first_name: str
    last_name: str
    classes: list
    home_bytes: Optional[int]


@dataclass
class CourseClose:
    """One course at the year's end: what is kept of it, and who leaves it."""
    course_id: str
    teacher: str
    classes: list  # the class names it keeps teaching
    pupils: int  # enrolled this year; none are left at the close
    exchange_bytes: Optional[int]


@dataclass
class ClosePlan:
    school_year: str
    leavers: List[Leaver]
    #: Teachers and admins marked as leaving: never removed by a rollover (the Accounts page does it).
    kept_staff: List[str]
    #: The classes that end: every pupil and teacher leaves them, and their groups go.
    classes: List[str]
    pupils_in_classes: int
    teachers_in_classes: int
    courses: List[CourseClose]
    #: What the export holds at most (the volumes' size): on the archives volume, whose room
    #: the sidecar checks before it starts.
    export_bytes: Optional[int]
    #: Bytes that the close writes on the data volume (ZIP and archive of each leaver's home,
    #: each course's exchange ZIP), its free bytes, and what it frees (leavers' homes, exchange).
    takes_bytes: int
    frees_bytes: int
    free_bytes: Optional[int] = None
    problems: List[str] = field(default_factory=list)
    #: The next year's lists previewed as one import (accounts.plan.Plan), when the close opens
    #: the next year in the same step; None: the close alone.
    next_year: Optional[object] = None

    @property
    def room_enough(self) -> bool:
        return self.free_bytes is None or self.takes_bytes <= self.free_bytes

    def to_json(self) -> dict:
        return {"school_year": self.school_year, "room_enough": self.room_enough,
                "leavers": [vars(leaver) for leaver in self.leavers], "kept_staff": self.kept_staff,
                "classes": self.classes, "pupils_in_classes": self.pupils_in_classes,
                "teachers_in_classes": self.teachers_in_classes,
                "courses": [vars(c) for c in self.courses], "export_bytes": self.export_bytes,
                "takes_bytes": self.takes_bytes,
                "frees_bytes": self.frees_bytes, "free_bytes": self.free_bytes, "problems": self.problems,
                "next_year": self.next_year.to_json() if self.next_year is not None else None}


@dataclass
class Sizes:
    """What the disk holds, measured by the caller (None: not measured)."""
    volumes: Optional[int] = None  # homes + exchange + data: an export holds at most this
    homes: Dict[str, int] = field(default_factory=dict)  # login -> bytes
    exchange: Dict[str, int] = field(default_factory=dict)  # course id -> bytes
    free: Optional[int] = None  # free bytes of the data volume


def plan_close(school_year: str, accounts: Iterable[Account], courses: Iterable[Course],
               sizes: Sizes = Sizes(), next_year=None) -> ClosePlan:
    """next_year: the next year's lists previewed as one import (accounts.plan.Plan); the pupils
    that they do not name leave too, besides those marked as leaving."""
    accounts = {a.login: a for a in accounts}
    leaving_too = set(absent_pupils(next_year)) if next_year is not None else set()
    leaving = [a for a in accounts.values() if a.leaving or a.login in leaving_too]
    leavers = [Leaver(a.login, a.first_name, a.last_name, list(a.classes), sizes.homes.get(a.login))
               for a in sorted(leaving, key=lambda a: (a.classes, a.last_name, a.first_name, a.login))
               if a.role == "student"]
    staff = sorted(a.login for a in leaving if a.role != "student")
    in_classes = [a for a in accounts.values() if a.classes]
    pupils = [a for a in in_classes if a.role == "student"]
    course_closes = [CourseClose(c.course_id, c.teacher, sorted(c.classes),
                                 len(members(c, accounts, include_disabled=True)), sizes.exchange.get(c.course_id))
                     for c in sorted(courses, key=lambda c: c.course_id)]
    leaver_bytes = sum(leaver.home_bytes or 0 for leaver in leavers)
    exchange_bytes = sum(c.exchange_bytes or 0 for c in course_closes)
    plan = ClosePlan(
        school_year=school_year, leavers=leavers, kept_staff=staff,
        classes=sorted({k for a in in_classes for k in a.classes}), pupils_in_classes=len(pupils),
        teachers_in_classes=len(in_classes) - len(pupils),
        # Each leaver's ZIP (their home is in the year's export already), each exchange's ZIP.
        courses=course_closes, export_bytes=sizes.volumes, takes_bytes=leaver_bytes + exchange_bytes,
        frees_bytes=leaver_bytes + exchange_bytes, free_bytes=sizes.free, next_year=next_year)
    if not plan.room_enough:
        plan.problems.append("not enough free disk on the data volume for the leavers' and the courses' archives")
    if next_year is not None and next_year.rejected:
        plan.problems.append(f"{len(next_year.rejected)} line(s) of the next year's lists are rejected: correct "
                             "them and preview again (nothing is done before)")
    return plan


def absent_pupils(next_year) -> list:
    """The pupils whom none of the next year's lists names (an accounts.plan.Plan of those lists):
    they leave with the year. Teachers and admins absent from them stay: a rollover never removes
    staff."""
    return sorted(a.login for a in next_year.absent if a.role == "student")
