"""Pure validation: targets, archive names, logins, settings, retention."""
import datetime as dt

import pytest

from jhub_admin_service.sidecar.validation import (
    ValidationError,
    expand_target,
    make_archive_name,
    plan_prune,
    schedule_due,
    validate_archive_name,
    validate_login,
    validate_retention,
    validate_settings,
    validate_sha256,
    validate_target,
)

GOOD = "jhub-all-20261125T215258Z-ef7018.tar.zst"


@pytest.mark.parametrize("t", ["home", "exchange", "data", "all"])
def test_known_targets(t):
    assert validate_target(t) == t


@pytest.mark.parametrize("t", ["", "etc", "HOME", "home/..", "../home", None, 1, ["home"], "all "])
def test_unknown_targets_refused(t):
    with pytest.raises(ValidationError):
        validate_target(t)


def test_expand_target():
    assert expand_target("all") == ["home", "exchange", "data"]
    assert expand_target("exchange") == ["exchange"]


@pytest.mark.parametrize("name", [GOOD, "jhub-home-20260101T000000Z-000000.tar.gz"])
def test_good_archive_names(name):
    assert validate_archive_name(name) == name


@pytest.mark.parametrize("name", [
    "", "..", ".", "/etc/passwd", "../" + GOOD, GOOD + "/..", "a/" + GOOD, "a/../" + GOOD,
    ".tmp-" + GOOD, GOOD + ".json", ".settings.json", GOOD.replace("all", "etc"),
    GOOD + "\n", GOOD + "\x00", GOOD.upper(), "jhub-all-20261125T215258Z-ef7018.tar",
    "jhub-all-20261125T215258Z-ef7018..tar.zst", None, 5,
])
def test_bad_archive_names_refused(name):
    with pytest.raises(ValidationError):
        validate_archive_name(name)


def test_make_archive_name_roundtrip():
    when = dt.datetime(2026, 11, 25, 21, 52, 58, tzinfo=dt.timezone.utc)
    assert make_archive_name("all", when, "ef7018", "zstd") == GOOD
    assert make_archive_name("home", when, "ef7018", "gzip").endswith(".tar.gz")
    with pytest.raises(ValidationError):
        make_archive_name("all", when, "../x", "zstd")
    with pytest.raises(ValidationError):
        make_archive_name("all", when, "ef7018", "xz")


@pytest.mark.parametrize("login", ["alice", "jean.dupont", "e12_3", "a-b", "_svc"])
def test_good_logins(login):
    assert validate_login(login) == login


@pytest.mark.parametrize("login", ["", ".", "..", "../root", "a/b", "Alice", "-rf", ".bashrc",
                                   "a..b", "a" * 40, "alice\n", None, "é"])
def test_bad_logins_refused(login):
    with pytest.raises(ValidationError):
        validate_login(login)


def test_sha256_confirmation():
    h = "a" * 64
    assert validate_sha256(h.upper()) == h
    for bad in ("", "a" * 63, "g" * 64, None):
        with pytest.raises(ValidationError):
            validate_sha256(bad)


def arch(name, age_days, now=1_000_000_000.0):
    return {"name": name, "created_ts": now - age_days * 86400}


NOW = 1_000_000_000.0


def test_prune_keep_n():
    items = [arch("a%d" % i, i) for i in range(5)]
    kept, deleted = plan_prune(items, keep=2, now=NOW)
    assert [a["name"] for a in kept] == ["a0", "a1"]
    assert [a["name"] for a in deleted] == ["a2", "a3", "a4"]


def test_prune_days_never_deletes_the_last_archive():
    items = [arch("old1", 100), arch("old2", 200)]
    kept, deleted = plan_prune(items, days=7, now=NOW)
    assert [a["name"] for a in kept] == ["old1"]
    assert [a["name"] for a in deleted] == ["old2"]
    kept, deleted = plan_prune([arch("only", 1000)], days=1, now=NOW)
    assert [a["name"] for a in kept] == ["only"] and deleted == []


def test_prune_keep_or_days():
    items = [arch("d%d" % i, i) for i in range(10)]
    kept, deleted = plan_prune(items, keep=2, days=5, now=NOW)
    assert [a["name"] for a in kept] == ["d0", "d1", "d2", "d3", "d4"]
    assert len(deleted) == 5


def test_prune_without_rules_deletes_nothing():
    items = [arch("d%d" % i, i) for i in range(3)]
    kept, deleted = plan_prune(items, now=NOW)
    assert deleted == [] and len(kept) == 3


@pytest.mark.parametrize("keep", [0, -1, "x", 1.5, True, 10**6])
def test_prune_rejects_bad_keep(keep):
    with pytest.raises(ValidationError):
        validate_retention(keep=keep)


def test_settings_validation_and_merge():
    s = validate_settings({"schedule": {"enabled": True, "time": "03:15"}})
    assert s["schedule"] == {"enabled": True, "time": "03:15", "target": "all"}
    s2 = validate_settings({"retention": {"days": 30}}, s)
    assert s2["schedule"]["enabled"] is True
    assert s2["retention"] == {"keep": 7, "days": 30}
    for bad in ({"schedule": {"time": "25:00"}}, {"schedule": {"enabled": "yes"}},
                {"schedule": {"target": "etc"}}, {"retention": {"keep": 0}},
                {"image": "evil"}, {"schedule": {"command": "rm"}}, []):
        with pytest.raises(ValidationError):
            validate_settings(bad)


def test_schedule_due():
    s = validate_settings({"schedule": {"enabled": True, "time": "02:30"}})
    day = dt.datetime(2026, 11, 25, 2, 29)
    assert not schedule_due(s, day, None)
    assert schedule_due(s, day.replace(minute=31), None)
    assert not schedule_due(s, day.replace(minute=31), "2026-11-25")
    assert schedule_due(s, day.replace(minute=31), "2026-11-24")
    off = validate_settings({"schedule": {"enabled": False}})
    assert not schedule_due(off, day.replace(hour=23), None)


def test_prune_counts_per_target_and_keeps_safety_exports_apart():
    """Seven home-only safety exports must not push out the archives of everything."""
    alls = [dict(arch(f"all{i}", 10 + i), target="all", targets=["home", "exchange", "data"], kind="scheduled")
            for i in range(3)]
    safety = [dict(arch(f"safe{i}", i), target="home", targets=["home"], kind="safety") for i in range(7)]
    kept, deleted = plan_prune(alls + safety, keep=7, now=NOW)
    assert deleted == [] and len(kept) == 10
    kept, deleted = plan_prune(alls + safety, keep=1, now=NOW)
    assert {a["name"] for a in kept} == {"all0", "safe0"}


def test_prune_never_deletes_the_newest_archive_of_a_volume():
    data = [dict(arch("data-only", 30), target="data", targets=["data"], kind="manual")]
    homes = [dict(arch(f"home{i}", i), target="home", targets=["home"], kind="manual") for i in range(4)]
    kept, deleted = plan_prune(data + homes, keep=2, days=1, now=NOW)
    assert {a["name"] for a in kept} == {"data-only", "home0", "home1"}
    assert {a["name"] for a in deleted} == {"home2", "home3"}


def test_a_year_s_closing_export_is_named_after_the_year_and_never_pruned():
    when = dt.datetime(2027, 7, 6, 14, 0, tzinfo=dt.timezone.utc)
    name = make_archive_name("all", when, "a1b2c3", "zstd", school_year="2026-2027")
    assert name == "jhub-all-2026-2027-20270706T140000Z-a1b2c3.tar.zst"
    assert validate_archive_name(name) == name
    for bad in ("2026-2028", "2026/2027", "26-27", "2026-2027 ", "../2026-2027"):
        with pytest.raises(ValidationError):
            make_archive_name("all", when, "a1b2c3", "zstd", school_year=bad)
    years = [dict(arch(f"year{i}", 400 * i), target="all", targets=["home", "exchange", "data"], kind="year")
             for i in range(1, 3)]
    nightly = [dict(arch(f"night{i}", i), target="all", targets=["home", "exchange", "data"], kind="scheduled")
               for i in range(3)]
    kept, deleted = plan_prune(years + nightly, keep=1, days=1, now=NOW)
    assert {a["name"] for a in kept} == {"year1", "year2", "night0"}
    assert {a["name"] for a in deleted} == {"night1", "night2"}
