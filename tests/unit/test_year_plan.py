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
    # The leaver's ZIP (their home is in the year's export already), the exchange's ZIP.
    assert (plan.export_bytes, plan.takes_bytes, plan.frees_bytes) == (10_000, 300 + 70, 300 + 70)
    assert plan.room_enough and plan.problems == []
    assert plan.to_json()["leavers"][0]["home_bytes"] == 300


def test_a_close_without_room_on_the_data_volume_is_refused_in_its_preview():
    plan = plan_close("2026-2027", [account("a", classes=["TG1"], leaving=True)], [],
                      Sizes(homes={"a": 5_000}, free=1_000))
    assert not plan.room_enough and plan.problems


def test_a_close_that_opens_the_next_year_takes_the_absent_pupils_as_leavers_and_never_the_staff():
    from jhub_admin_service.accounts.plan import make_plan
    from jhub_admin_service.accounts.roster import read_roster

    accounts = [account("a.terminale", classes=["TG1"], uid=2001), account("b.seconde", classes=["2NDE1"], uid=2002),
                account("c.prof", role="teacher", uid=2003), account("d.marque", classes=["2NDE1"], leaving=True,
                                                                     uid=2004)]
    lists = read_roster(b"login;password;role;class\nb.seconde;;student;1ERE1\nd.marque;;student;1ERE1\n")
    next_year = make_plan(lists, {a.login: a for a in accounts}, system_logins=())
    plan = plan_close("2026-2027", accounts, [], next_year=next_year)
    # Absent from the lists (a.terminale) or marked (d.marque, even though the lists name them).
    assert [leaver.login for leaver in plan.leavers] == ["d.marque", "a.terminale"]  # by class, then name
    assert plan.kept_staff == [] and plan.problems == []
    assert plan.to_json()["next_year"]["counts"]["update"] == 2

    broken = make_plan(read_roster(b"login;password;role;class\nb.seconde;;student;1ERE1\nBAD LOGIN;;student;1ERE1\n"),
                       {a.login: a for a in accounts}, system_logins=())
    assert broken.rejected
    assert any("rejected" in p for p in plan_close("2026-2027", accounts, [], next_year=broken).problems)
