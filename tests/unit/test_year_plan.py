"""The close of a school year, planned from the registry and the courses alone."""
import datetime

import pytest

from jhub_admin_service.accounts.registry import Account
from jhub_admin_service.courses.rules import Course
from jhub_admin_service.year.plan import Sizes, plan_close, school_year_of


@pytest.mark.parametrize("day, year", [
    (datetime.date(2027, 7, 6), "2026-2027"), (datetime.date(2027, 8, 31), "2026-2027"),
    (datetime.date(2026, 9, 1), "2026-2027"), (datetime.date(2026, 12, 6), "2026-2027"),
    (datetime.date(2027, 1, 4), "2026-2027")])
def test_the_school_year_of_a_day(day, year):
    assert school_year_of(day) == year


def account(login, role="student", classes=(), leaving=False, uid=2000, **kw):
    return Account(login=login, uid=uid, gid=uid, role=role, classes=list(classes), leaving=leaving, **kw)


def test_leavers_are_the_pupils_marked_leaving_and_never_the_staff():
    accounts = [account("a.terminale", classes=["TG1"], leaving=True, last_name="A"),
                account("b.seconde", classes=["2NDE1"]),
                account("c.prof", role="teacher", leaving=True),
                account("d.admin", role="admin", leaving=True),
                account("e.sans.classe", leaving=False)]
    courses = [Course("cours_c_prof", "c.prof", classes=["2NDE1", "TG1"], students=["e.sans.classe"])]
    plan = plan_close("2026-2027", accounts, courses,
                      Sizes(volumes=10_000, homes={"a.terminale": 300, "b.seconde": 50}, exchange={"cours_c_prof": 70},
                            free=1_000))
    assert [leaver.login for leaver in plan.leavers] == ["a.terminale"]
    assert plan.kept_staff == ["c.prof", "d.admin"]
    assert plan.classes == ["2NDE1", "TG1"] and (plan.pupils_in_classes, plan.teachers_in_classes) == (2, 0)
    [course] = plan.courses
    assert (course.classes, course.pupils, course.exchange_bytes) == (["2NDE1", "TG1"], 3, 70)
    # The leaver's home is written twice (its ZIP and its archive); the exchange once, as a ZIP.
    assert (plan.export_bytes, plan.takes_bytes, plan.frees_bytes) == (10_000, 2 * 300 + 70, 300 + 70)
    assert plan.room_enough and plan.problems == []
    assert plan.to_json()["leavers"][0]["home_bytes"] == 300


def test_a_close_without_room_on_the_data_volume_is_refused_in_its_preview():
    plan = plan_close("2026-2027", [account("a", classes=["TG1"], leaving=True)], [],
                      Sizes(homes={"a": 5_000}, free=1_000))
    assert not plan.room_enough and plan.problems
