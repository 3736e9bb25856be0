"""Reading class lists: every format variant and every bad case, on the sample files and on crafted ones."""
import codecs

import pytest

from jhub_admin_service.accounts.roster import MAX_ROWS, RosterError, read_roster


def entries_by_login(roster):
    return {e.login: e for e in roster.entries}


def reasons(roster):
    return {r.line: r.reason for r in roster.rejected}


def test_historical_sample(rosters):
    roster = read_roster((rosters / "comptes-historique.csv").read_bytes())
    assert (roster.format, roster.delimiter) == ("historical", "semicolon")
    by = entries_by_login(roster)
    assert len(by) == 15 and not roster.rejected
    assert sum(e.role == "teacher" for e in by.values()) == 3
    assert by["eleve1"].password == "mdp-01x" and by["eleve1"].role == "student"
    assert by["prof2"].password == "Prof-2-pass" and by["prof2"].role == "teacher"


def test_siecle_sample(rosters):
    roster = read_roster((rosters / "siecle-eleves-par-division.csv").read_bytes())
    assert roster.format == "siecle" and roster.encoding in ("windows-1252", "iso-8859-1")
    assert len(roster.entries) == 10 and not roster.rejected
    lea = [e for e in roster.entries if e.first_name == "Léa"]
    assert [e.classes for e in lea] == [["2nde3"], ["2nde4"]]
    assert all(e.login == "" and e.password == "" for e in roster.entries)
    assert lea[0].identity_key != lea[1].identity_key  # two people, not one


def test_ent_sample(rosters):
    roster = read_roster((rosters / "ent-export-comptes.csv").read_bytes())
    assert (roster.format, roster.encoding) == ("ent", "utf-8-sig")
    by = entries_by_login(roster)
    assert by["sophie.lambert"].role == "teacher"
    assert by["camille.rousseau"].classes == ["T NSI"] and by["camille.rousseau"].role == "student"
    assert all(e.password == "" for e in roster.entries)  # the activation code is not a password


def test_comma_historical_is_read(rosters):
    roster = read_roster((rosters / "bad" / "comma-historical.csv").read_bytes())
    assert roster.delimiter == "comma"
    assert {e.login: e.role for e in roster.entries} == {"eleve1": "student", "eleve2": "teacher"}


def test_duplicates_rejected_on_every_line(rosters):
    roster = read_roster((rosters / "bad" / "duplicates.csv").read_bytes())
    assert [e.login for e in roster.entries] == ["eleve2"]
    assert set(reasons(roster)) == {1, 3}
    assert all("duplicate" in r for r in reasons(roster).values())


def test_system_and_invalid(rosters):
    roster = read_roster((rosters / "bad" / "system-and-invalid.csv").read_bytes())
    assert [e.login for e in roster.entries] == ["eleve1"]
    why = reasons(roster)
    assert set(why) == {2, 3, 4, 5, 6, 7, 8}
    assert "reserved" in why[2] and "reserved" in why[3]
    assert "case" in why[4]
    assert "empty" in why[5] and "space" in why[6] and "'-'" in why[7] and "digits" in why[8]


def test_unknown_role_lists_accepted_roles(rosters):
    roster = read_roster((rosters / "bad" / "unknown-role.csv").read_bytes())
    assert not roster.entries
    assert "surveillant" in roster.rejected[0].reason and "enseignant" in roster.rejected[0].reason


def test_binary_refused_whole(rosters):
    with pytest.raises(RosterError, match="binary"):
        read_roster((rosters / "bad" / "binary.csv").read_bytes())


@pytest.mark.parametrize("data", [b"", b"   \n\n", b"\x00\x01\x02\x03" * 100, bytes(range(256)) * 20])
def test_empty_or_binary_refused(data):
    with pytest.raises(RosterError):
        read_roster(data)


def test_unrecognised_columns_refused():
    with pytest.raises(RosterError, match="Unrecognised columns"):
        read_roster(b"a;b;c;d;e\n1;2;3;4;5\n")


def test_too_many_lines_refused():
    data = "".join(f"e{i};pw;\n" for i in range(MAX_ROWS + 10)).encode()
    with pytest.raises(RosterError, match="at most"):
        read_roster(data)


def excel_header_file():
    return "Nom;Prénom;Classe;Profil;Mot de passe\r\nŒUVRAY;Cécile;1ère G1;élève;\r\nDurand;Paul;;Prof;s3cret:x\r\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252"])
def test_header_format_in_every_encoding(encoding):
    text = excel_header_file()
    if encoding == "cp1252":
        text = text.replace("Œ", "OE")  # cp1252 has Œ, keep it simple for latin-1 readers too
    roster = read_roster(text.encode(encoding))
    assert roster.format == "header"
    first, second = roster.entries
    assert first.first_name == "Cécile" and first.classes == ["1ère G1"] and first.role == "student"
    assert second.role == "teacher" and second.password == "s3cret:x"  # ':' is carried: we hash it ourselves


def test_utf16_without_bom_is_not_silently_garbage():
    data = codecs.encode(excel_header_file(), "utf-16-le")
    with pytest.raises(RosterError):
        read_roster(data)


def test_tab_quotes_blank_lines_and_spaces():
    data = b'login\tpassword\trole\n\n  "alice"  \t "pw 1" \tteacher\n\nbob\t\t\n'
    roster = read_roster(data)
    assert roster.delimiter == "tab"
    assert {e.login: (e.password, e.role) for e in roster.entries} == {
        "alice": ("pw 1", "teacher"), "bob": ("", "student")}


def test_password_with_newline_rejected():
    roster = read_roster(b'login;password\nalice;"two\nlines"\nbob;ok\n')
    assert [e.login for e in roster.entries] == ["bob"]
    assert "line break" in roster.rejected[0].reason


def test_lone_uppercase_login_is_lowered():
    roster = read_roster(b"Camille.Rousseau;pw;\n")
    assert roster.entries[0].login == "camille.rousseau"


def test_long_login_rejected():
    roster = read_roster(("a" * 33 + ";pw;\n").encode())
    assert "32" in roster.rejected[0].reason


def test_multiple_classes():
    roster = read_roster("identifiant;classes\nzoe;TG1, TG2\n".encode())
    assert roster.entries[0].classes == ["TG1", "TG2"]


def test_line_numbers_are_physical_lines():
    roster = read_roster(b'login;password\n\nalice;"a\nb"\n\nroot;x\n')
    assert {r.login: r.line for r in roster.rejected} == {"alice": 3, "root": 6}


def test_one_column_list_of_logins():
    assert [e.login for e in read_roster(b"login\nalice\nbob\n").entries] == ["alice", "bob"]
    assert [e.login for e in read_roster(b"alice\nbob\n").entries] == ["alice", "bob"]


def test_prose_is_not_a_class_list():
    with pytest.raises(RosterError, match="separator"):
        read_roster("Bonjour à tous\nVoici la liste des élèves de seconde\nMerci\n".encode())


def test_one_full_name_column_gives_last_and_first_names():
    data = ("Élève;Classe\nLEFÈVRE Mathéo;2nde 3\nDA SILVA Léna;2nde 3\nN'DIAYE Aïssatou;2nde 3\n"
            "Martin Paul;2nde 3\n").encode("utf-8")
    roster = read_roster(data)
    names = [(e.first_name, e.last_name) for e in roster.entries]
    assert names == [("Mathéo", "LEFÈVRE"), ("Léna", "DA SILVA"), ("Aïssatou", "N'DIAYE"), ("Paul", "Martin")]
    assert not roster.rejected and roster.format == "header"
    for header in ("Nom Prénom", "Nom et prénom"):
        assert read_roster(f"{header};Division\nDUPONT Léa;1G2\n".encode()).entries[0].last_name == "DUPONT"


def test_a_header_without_login_or_name_is_refused_naming_its_columns():
    with pytest.raises(RosterError, match="'Classe', 'Mot de passe'.*none gives a login or a name"):
        read_roster("Classe;Mot de passe\n2nde 1;secret\n".encode())


def test_control_and_invisible_characters_and_overlong_fields_are_rejected_with_the_reason():
    data = ("identifiant;prénom;nom;classe\n"
            "a.b;Léa\x1b[31m;Dupont;2nde\n"
            "c.d;Noé;Mar\u202etin;2nde\n"
            f"e.f;{'x' * 101};Roux;2nde\n"
            "g.h;Inès;Petit;2nde, 2nde ,SNT\n").encode("utf-8")
    roster = read_roster(data)
    reasons = {r.login: r.reason for r in roster.rejected}
    assert "U+001B" in reasons["a.b"] and "U+202E" in reasons["c.d"] and "longer than 100" in reasons["e.f"]
    assert [e.classes for e in roster.entries] == [["2nde", "SNT"]]


def test_a_teacher_who_is_also_an_admin_in_the_role_cell_or_an_admin_column():
    roster = read_roster("identifiant;nom;prénom;profil;classe\n"
                         "m.durand;DURAND;Marie;enseignant+admin;T NSI\n"
                         "p.leroy;LEROY;Paul;Prof et Admin;\n"
                         "a.petit;PETIT;Anne;enseignant;\n".encode())
    by_login = entries_by_login(roster)
    assert [(by_login[x].role, by_login[x].admin) for x in ("m.durand", "p.leroy", "a.petit")] == [
        ("teacher", True), ("teacher", True), ("teacher", None)]  # None: the line does not say
    historical = entries_by_login(read_roster(b"m.durand;Passw0rd-123;1+admin\nj.eleve;Passw0rd-123;\n"))
    assert (historical["m.durand"].role, historical["m.durand"].admin) == ("teacher", True)
    column = read_roster("login;nom;prenom;profil;administrateur\nm.durand;D;M;prof;oui\np.leroy;L;P;prof;non\n"
                         "a.petit;P;A;prof;\nz.admin;Z;A;admin;\n".encode())
    assert [(e.login, e.role, e.admin) for e in column.entries] == [
        ("m.durand", "teacher", True), ("p.leroy", "teacher", False), ("a.petit", "teacher", None),
        ("z.admin", "admin", None)]  # an empty cell says nothing: the rights stay as they are


def test_admin_rights_are_refused_to_a_student_and_nonsense_is_refused():
    roster = read_roster("login;nom;prenom;profil;admin\neleve1;A;B;élève;oui\nprof1;C;D;prof;peut-être\n"
                         "prof2;E;F;prof+élève;\nprof3;G;H;prof+admin+admin;\nprof4;I;J;prof+admin;non\n".encode())
    assert [(e.login, e.role, e.admin) for e in roster.entries] == [("prof3", "teacher", True)]
    why = reasons(roster)
    assert "a student cannot be an admin" in why[2]
    assert "neither oui nor non" in why[3]
    assert "unknown role 'prof+élève'" in why[4] and "enseignant+admin" in why[4]
    assert 5 not in why  # the same role twice is still teacher+admin
    assert "disagree" in why[6]


@pytest.mark.parametrize("data", [
    b"Classe;Date\n2nde1;12/09/2026\n",  # one column of a class list, and another
    b"classe\n2nde1\n2nde2\n",  # one known column, no separator
    "E-mail;Téléphone\nmarie@lycee.fr;0601020304\n".encode(),
    "Classe;Date de naissance;Sexe\n2nde1;11/03/2010;F\n".encode(),
])
def test_a_header_of_other_columns_is_refused_whole_naming_them(data):
    """Issue 20, point 10: its header line is not a login."""
    with pytest.raises(RosterError) as refused:
        read_roster(data)
    first = data.decode().splitlines()[0].split(";")
    assert "none gives a login or a name" in str(refused.value)
    assert all(repr(column) in str(refused.value) for column in first), str(refused.value)


def test_a_historical_list_that_starts_with_a_login_named_like_a_column_is_still_read():
    roster = read_roster(b"admin;S3cret-pass;1\nclasse;Autre-pass-12;\neleve1;Passw0rd-12;\n")
    assert roster.format == "historical" and [e.login for e in roster.entries] == ["admin", "classe", "eleve1"]


def test_an_ent_export_s_id_is_the_person_s_identifier_and_a_sheet_s_id_is_not():
    """The ENT's login carries the export's Id (issue 25); a sheet's "ID" of row numbers is no one's."""
    ent = read_roster('"Id";"Type";"Nom";"Prénom";"Identifiant";"Classes"\n"a1";"Élève";"Rousseau";"Camille";'
                      '"camille.rousseau";"T NSI"\n'.encode())
    assert ent.format == "ent" and ent.entries[0].external_id == "a1"
    sheet = read_roster("ID;Nom;Prenom;Classe\n1;Alpha;Anne;2C\n".encode())
    assert sheet.entries[0].external_id == ""
