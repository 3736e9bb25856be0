"""Pure rules of courses.py: course ids, default courses, enrolment planning, hub groups, profiles."""
import json
from pathlib import Path

import pytest

from jhub_admin_service.courses import rules as C
from jhub_admin_service.courses import hub_hooks
from jhub_admin_service.courses import teacher_homes as T
from jhub_admin_service.settings import AdminSettings
from jhub_admin_service.accounts.registry import Account


def acc(login, role="student", classes=(), disabled=False, first="", last=""):
    return Account(login=login, uid=1, gid=1, role=role, classes=list(classes), disabled=disabled,
                   first_name=first, last_name=last)


def accounts(*items):
    return {a.login: a for a in items}


@pytest.mark.parametrize("cid", ["cours_dupont", "nsi_terminale", "ab", "x" * 40, "maths2nde3"])
def test_valid_course_ids(cid):
    assert C.course_id_problem(cid) is None


@pytest.mark.parametrize("cid", ["", "a", "x" * 41, "NSI", "nsi-t", "nsi.t", "nsi+t", "nsi t", "2nde", "_nsi",
                                 "cours_élève", "../etc", "nsi/t", " nsi"])
def test_invalid_course_ids(cid):
    assert C.course_id_problem(cid)


@pytest.mark.parametrize("login, expected", [
    ("dupont", "cours_dupont"),
    ("jean-luc.picard", "cours_jean_luc_picard"),
    ("a..b--c", "cours_a_b_c"),
    ("m.durand2", "cours_m_durand2"),
    ("x" * 32, "cours_" + "x" * 32),
])
def test_default_course_id_is_always_valid(login, expected):
    cid = C.default_course_id(login)
    assert cid == expected
    assert C.course_id_problem(cid) is None


def test_default_course_id_collision_gets_suffix():
    assert C.default_course_id("a.b", taken={"cours_a_b"}) == "cours_a_b_2"
    assert C.default_course_id("a-b", taken={"cours_a_b", "cours_a_b_2"}) == "cours_a_b_3"
    long = C.default_course_id("x" * 32, taken={"cours_" + "x" * 32})
    assert len(long) == 40 and long.endswith("_2") and C.course_id_problem(long) is None


def test_missing_default_courses_only_for_active_teachers_without_course():
    accs = accounts(acc("t.one", "teacher"), acc("t-one", "teacher"), acc("t2", "teacher"),
                    acc("gone", "teacher", disabled=True), acc("s1"), acc("boss", "admin"))
    existing = [C.Course("nsi", "t2")]
    todo = C.missing_default_courses(accs, existing)
    assert todo == [("cours_t_one", "t-one"), ("cours_t_one_2", "t.one")]


def test_members_follow_classes_and_individual_enrolment():
    accs = accounts(acc("a", classes=["T NSI"]), acc("b", classes=["T NSI", "1 NSI"]), acc("c", classes=["1 NSI"]),
                    acc("d", classes=["T NSI"], disabled=True), acc("p", "teacher", classes=["T NSI"]), acc("e"))
    course = C.Course("nsi", "p", classes=["T NSI"], students=["e", "ghost"], excluded=["b"])
    assert C.members(course, accs) == {"a", "e"}
    # A student imported into the class later is a member at the next sync.
    accs["f"] = acc("f", classes=["T NSI"])
    assert C.members(course, accs) == {"a", "e", "f"}
    # A disabled student cannot log in (no hub group) but is still enrolled (the gradebook).
    assert C.members(course, accs, include_disabled=True) == {"a", "d", "e", "f"}


def test_departures_say_who_left_and_whose_account_is_gone():
    accs = accounts(acc("a"), acc("b"))
    assert C.departures(["a", "b", "gone"], ["b"], accs) == {"a": "left", "gone": "removed"}
    assert C.departures([], ["a"], accs) == {}


def test_a_departure_mark_replaces_another_and_never_stacks():
    left, removed = T.departure_mark("left", "fr_FR.UTF-8"), T.departure_mark("removed", "C.UTF-8")
    assert left == "(a quitté le cours)" and removed == "(account removed)"
    assert T.marked("Dupont", left) == "Dupont (a quitté le cours)"
    assert T.marked(T.marked("Dupont", left), left) == "Dupont (a quitté le cours)"
    assert T.marked(T.marked("Dupont", left), removed) == "Dupont (account removed)"
    assert T.marked("", removed) == "(account removed)"


def test_plan_enrol_and_unenrol():
    accs = accounts(acc("a", classes=["T1"]), acc("b", classes=["T1"]), acc("x"))
    course = C.Course("nsi", "p")
    classes, students, excluded = C.plan_enrol(course, accs, classes=["T1"], students=["x"])
    assert (classes, students, excluded) == (["T1"], ["x"], [])
    course = C.Course("nsi", "p", classes=classes, students=students, excluded=excluded)
    # Unenrolling one student of an enrolled class remembers the exclusion.
    classes, students, excluded = C.plan_unenrol(course, accs, students=["b", "x"])
    assert (classes, students, excluded) == (["T1"], [], ["b"])
    course = C.Course("nsi", "p", classes=classes, students=students, excluded=excluded)
    assert C.members(course, accs) == {"a"}
    # Enrolling that student again lifts it.
    assert C.plan_enrol(course, accs, students=["b"])[2] == []
    # Unenrolling the class drops exclusions that no longer mean anything.
    assert C.plan_unenrol(course, accs, classes=["T1"]) == ([], [], [])
    with pytest.raises(C.CourseError):
        C.plan_unenrol(course, accs, classes=["T9"])
    with pytest.raises(C.CourseError):
        C.plan_enrol(course, accs, students=["nobody"])


def test_wanted_course_groups():
    accs = accounts(acc("p", "teacher"), acc("a", classes=["T1"]), acc("q", "teacher", disabled=True))
    groups = C.wanted_course_groups([C.Course("nsi", "p", classes=["T1"]), C.Course("old", "q")], accs)
    assert groups == {"formgrade-nsi": {"p"}, "nbgrader-nsi": {"a"}, "formgrade-old": set(), "nbgrader-old": set()}


def test_config_texts_are_valid_python(tmp_path):
    text = T.course_config_text("cours_p", "/home/p/cours_p")
    assert text.startswith(T.MANAGED_MARK)
    compile(text, "nbgrader_config.py", "exec")
    home = tmp_path / "home"
    (home / ".jupyter").mkdir(parents=True)
    user = T.user_config_text([{"course_id": "cours_p", "is_default": True}, {"course_id": "nsi"}], str(home))

    class Cfg(dict):
        def __getattr__(self, name):
            return self.setdefault(name, Cfg())

        def __setattr__(self, name, value):
            self[name] = value

    def run(expected):
        cfg = Cfg()
        exec(compile(user, "u.py", "exec"), {"get_config": lambda: cfg, "__name__": "cfg"})
        assert cfg.CourseDirectory.course_id == expected

    import os
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    try:
        run("cours_p")
        (home / ".jupyter" / "nbgrader_course").write_text("nsi\n")
        run("nsi")
        (home / ".jupyter" / "nbgrader_course").write_text("unknown\n")
        run("cours_p")
    finally:
        os.environ["HOME"] = old


def test_header_notebook_is_a_notebook():
    import nbformat
    for lang in ("fr_FR.UTF-8", "C.UTF-8"):
        nbformat.validate(nbformat.read(T.header_asset(lang), as_version=4))


def test_profiles(tmp_path):
    root = hub_hooks.write_profiles(str(tmp_path / "profiles"))
    student = json.loads((tmp_path / "profiles/student/labconfig/page_config.json").read_text())
    teacher = json.loads((tmp_path / "profiles/teacher/labconfig/page_config.json").read_text())
    assert student["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True
    assert teacher["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is False
    s_ext = json.loads((tmp_path / "profiles/student/jupyter_server_config.d/jhub-admin-nbgrader.json").read_text())
    ext = s_ext["ServerApp"]["jpserver_extensions"]
    assert ext["nbgrader.server_extensions.formgrader"] is False
    assert ext["nbgrader.server_extensions.assignment_list"] is True
    assert ext["jhub_admin_service.courses.hub_hooks"] is False
    assert ext["jhub_admin_service.courses.grading"] is False
    t_ext = json.loads((tmp_path / "profiles/teacher/jupyter_server_config.d/jhub-admin-nbgrader.json").read_text())
    assert t_ext["ServerApp"]["jpserver_extensions"]["jhub_admin_service.courses.grading"] is True
    assert hub_hooks.write_profiles(root) == root  # idempotent
    assert hub_hooks.profile_for({"teachers"}) == "teacher"
    assert hub_hooks.profile_for({"students", "formgrade-x"}) == "teacher"
    assert hub_hooks.profile_for({"students", "nbgrader-x"}) == "student"


def test_formgrader_csp():
    assert hub_hooks.formgrader_csp("frame-ancestors 'none'") == "frame-ancestors 'self'"
    assert hub_hooks.formgrader_csp("frame-ancestors 'none'; report-uri /x") == "frame-ancestors 'self'; report-uri /x"
    assert hub_hooks.formgrader_csp("default-src 'self'") == "default-src 'self'"


def test_configure_sets_hook_and_scopes_once(tmp_path):
    import asyncio
    import logging
    from types import SimpleNamespace

    from traitlets.config import Config

    calls = []
    c = Config()
    c.Spawner.pre_spawn_hook = lambda spawner: calls.append(spawner.user.name)
    settings = AdminSettings(profiles_root=str(tmp_path / "p"))
    hub_hooks.configure(c, settings)
    hub_hooks.configure(c, settings)  # twice: replaced, not chained twice
    assert "read:users:groups!user" in c.Spawner.server_token_scopes

    def spawner(name, groups):
        return SimpleNamespace(user=SimpleNamespace(name=name, groups=[SimpleNamespace(name=g) for g in groups]),
                               environment={"LANG": "fr_FR.UTF-8"}, log=logging.getLogger("test"))

    teacher, student = spawner("t", ["teachers"]), spawner("s", ["students", "nbgrader-nsi"])
    asyncio.run(c.Spawner.pre_spawn_hook(teacher))
    asyncio.run(c.Spawner.pre_spawn_hook(student))
    assert calls == ["t", "s"]
    assert teacher.environment["JUPYTER_CONFIG_PATH"] == str(tmp_path / "p" / "teacher")
    assert student.environment["JUPYTER_CONFIG_PATH"] == str(tmp_path / "p" / "student")
    assert teacher.environment["LANG"] == "fr_FR.UTF-8"


def course_config(lang):
    """The course's nbgrader_config.py, as nbgrader loads it."""
    from traitlets.config import Config
    cfg = Config()
    exec(compile(T.course_config_text("cours_p", "/home/p/cours_p", lang), "nbgrader_config.py", "exec"),
         {"get_config": lambda: cfg})
    return cfg


def test_a_french_course_leaves_french_stubs_and_an_english_one_nbgrader_s():
    from nbgrader.preprocessors import ClearSolutions

    french = ClearSolutions(config=course_config("fr_FR.UTF-8"))
    assert french.code_stub["python"] == "# VOTRE CODE ICI\nraise NotImplementedError()"
    assert french.text_stub == "VOTRE RÉPONSE ICI"
    english = ClearSolutions(config=course_config("en_GB.UTF-8"))
    assert english.code_stub["python"] == ClearSolutions().code_stub["python"]
    assert english.text_stub == "YOUR ANSWER HERE"


def header_text(path):
    return "".join(json.loads(open(path, encoding="utf-8").read())["cells"][0]["source"])


def test_the_header_speaks_the_course_s_language_and_names_what_its_stubs_leave(tmp_path):
    french, english = header_text(T.header_asset("fr_FR.UTF-8")), header_text(T.header_asset("C.UTF-8"))
    assert "**Noyau → Redémarrer le noyau et Exécuter toutes les cellules…**" in french
    assert "`VOTRE CODE ICI`" in french and "« VOTRE RÉPONSE ICI »" in french
    assert "Before" not in french and "Kernel" not in french
    assert "**Kernel → Restart Kernel and Run All Cells…**" in english and "Noyau" not in english
    assert '"YOUR ANSWER HERE"' in english


def test_a_header_never_edited_is_renewed_and_an_edited_one_kept(tmp_path):
    import hashlib
    header = tmp_path / "header.ipynb"
    T.give_header(str(header), "fr_FR.UTF-8")
    assert header.read_bytes() == open(T.header_asset("fr"), "rb").read()
    # the header jhub-admin gave before (commit 469ccc6)
    retired = (Path(__file__).parent / "data" / "retired-header.ipynb").read_bytes()
    assert hashlib.sha256(retired).hexdigest() in T.RETIRED_HEADERS
    header.write_bytes(retired)
    T.give_header(str(header), "fr_FR.UTF-8")
    assert "Noyau → Redémarrer le noyau" in header_text(header)
    header.write_bytes(retired.replace(b"Avant de rendre", b"Avant de me rendre"))
    T.give_header(str(header), "fr_FR.UTF-8")
    assert b"Avant de me rendre" in header.read_bytes()
