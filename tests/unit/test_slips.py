"""The slips' sheets: staff apart from the pupils, namesakes told apart, values that fit."""
from jhub_admin_service.accounts.homonyms import distinguishers
from jhub_admin_service.accounts.plan import make_plan
from jhub_admin_service.accounts.roster import read_roster
from jhub_admin_service.accounts.slips import (ADDRESS_WIDTH_MM, LARGEST_POINTS, MM_PER_POINT, MONO_EM,
                                               SMALLEST_POINTS, VALUE_WIDTH_MM, slip_book)

ADDRESS = "https://jupyter.lycee-exemple.fr/"


def person(login, first, last, classes=("2nde3",), role="student", **kw):
    return {"login": login, "password": "abcd-EFGH-2345", "role": role, "classes": list(classes),
            "first_name": first, "last_name": last, **kw}


def width_mm(text, points):
    return len(text) * points * MONO_EM * MM_PER_POINT


def test_teachers_and_admins_come_apart_from_the_pupils_marked_with_their_role():
    book = slip_book([
        person("lea.martin", "Léa", "Martin"),
        person("p.durand", "Paul", "Durand", role="teacher"),  # a teacher of 2nde3, on the list of 2nde3
        person("c.roux", "Claire", "Roux", role="teacher", hub_admin=True),
        person("admin", "", "", classes=(), role="admin"),
        person("zoe.petit", "Zoé", "Petit", classes=("1G2",)),
        person("sans.classe", "Sam", "Sans", classes=()),
    ], ADDRESS)
    assert [(s.kind, s.title, [p.login for p in s.slips]) for s in book.sheets] == [
        ("class", "1G2", ["zoe.petit"]),
        ("class", "2nde3", ["lea.martin"]),
        ("class", "", ["sans.classe"]),
        ("teacher", "", ["p.durand"]),
        ("admin", "", ["admin", "c.roux"]),  # a teacher with admin rights hands out an admin's password
    ]
    assert {p.role for s in book.sheets if s.kind == "class" for p in s.slips} == {"student"}


def test_namesakes_of_a_class_are_told_apart_by_birth_date_else_number_else_login():
    people = [
        person("lea.martin", "Léa", "MARTIN", birth_date="11/03/2009"),
        person("lea.martin2", "Lea", "Martin", birth_date="02/10/2009"),
        person("tom.bon", "Tom", "Bon", external_id="070123456AB"),
        person("tom.bon2", "Tom", "Bon", external_id="070654321CD"),
        person("eva.roy", "Eva", "Roy"),
        person("eva.roy2", "Eva", "Roy"),
        person("lea.martin3", "Léa", "Martin", classes=("1G2",), birth_date="05/05/2008"),  # another class
        person("ines.b", "Inès", "Bas", birth_date="01/01/2009"),  # no namesake: no birth date printed
    ]
    book = slip_book(people, ADDRESS)
    told = {p.login: p.tell_apart for s in book.sheets for p in s.slips}
    assert told == {
        "lea.martin": ("birth_date", "11/03/2009"), "lea.martin2": ("birth_date", "02/10/2009"),
        "tom.bon": ("external_id", "070123456AB"), "tom.bon2": ("external_id", "070654321CD"),
        "eva.roy": ("login", "eva.roy"), "eva.roy2": ("login", "eva.roy2"),
        "lea.martin3": None, "ines.b": None,
    }
    # The accounts list uses the same rule.
    assert set(distinguishers(people)) == {login for login, apart in told.items() if apart}


def test_every_value_fits_its_line_in_one_piece():
    long_login = "marie-christine.de-la-fontaine"  # 30 characters: a real SIECLE name
    book = slip_book([person(long_login, "Marie-Christine", "De La Fontaine"), person("li.wu", "Li", "Wu")],
                     "https://jupyter.lycee-saint-exupery-lyon.fr/")
    slips = {p.login: p for s in book.sheets for p in s.slips}
    assert slips["li.wu"].login_points == LARGEST_POINTS
    assert SMALLEST_POINTS < slips[long_login].login_points < LARGEST_POINTS
    assert width_mm(long_login, slips[long_login].login_points) <= VALUE_WIDTH_MM
    assert width_mm(book.address, book.address_points) <= ADDRESS_WIDTH_MM
    assert book.address_parts == [book.address]


def test_an_address_too_long_for_one_line_breaks_only_after_a_slash():
    for address in ("https://jupyterhub.lycee-polyvalent-jean-baptiste-de-la-salle.fr/",
                    "https://services-numeriques.lycee-polyvalent-regional.ac-academie.fr/enseignement/jupyter/"):
        book = slip_book([person("a.b", "A", "B")], address)
        assert "".join(book.address_parts) == address and len(book.address_parts) > 1
        assert all(part.endswith("/") for part in book.address_parts[:-1])
        assert all(width_mm(part, book.address_points) <= ADDRESS_WIDTH_MM for part in book.address_parts)
        assert book.address_points >= SMALLEST_POINTS


def test_a_siecle_list_with_namesakes_brings_their_birth_dates_to_the_plan():
    data = ("Nom;Prénom;Né(e) le;Division\nMARTIN;Léa;11/03/2009;2nde3\nMARTIN;Léa;02/10/2009;2nde3\n"
            .encode("utf-8"))
    plan = make_plan(read_roster(data), {}, {"root"})
    assert sorted(p.birth_date for p in plan.create) == ["02/10/2009", "11/03/2009"]


def test_a_birth_date_is_kept_in_one_format_whatever_the_lists():
    from jhub_admin_service.accounts.plan import french_date

    assert {french_date(d) for d in ("11/03/2009", "11/3/2009", "11.03.2009", "2009-03-11", " 11-03-2009")} == {
        "11/03/2009"}
    assert french_date("mars 2009") == "mars 2009" and french_date("") == ""


def test_a_twin_whose_password_alone_is_reset_is_told_apart_from_the_other():
    twin = person("lea.martin2", "Léa", "Martin", birth_date="02/10/2009")
    other = person("lea.martin", "Léa", "Martin", birth_date="11/03/2009")
    book = slip_book([twin], ADDRESS, others=[other, twin])
    assert [p.tell_apart for s in book.sheets for p in s.slips] == [("birth_date", "02/10/2009")]
    assert [p.login for s in book.sheets for p in s.slips] == ["lea.martin2"]  # the other is not printed
