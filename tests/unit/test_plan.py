"""Planning: desired state (a roster) against current state (registry accounts, local accounts)."""
import json

import pytest

from jhub_admin_service.accounts.plan import make_plan
from jhub_admin_service.accounts.registry import Account
from jhub_admin_service.accounts.roster import RosterError, read_roster

SYSTEM = {"root", "daemon", "www-data", "postgres", "cloudsdk"}


def account(login, role="student", classes=(), **kw):
    return Account(login=login, uid=10000 + len(login), gid=10000 + len(login), role=role, classes=list(classes),
                   password_hash="$y$x", **kw)


def plan_for(data, managed=(), system=SYSTEM, **kw):
    return make_plan(read_roster(data), {a.login: a for a in managed}, system | {a.login for a in managed}, **kw)


def test_new_file_creates_with_given_and_generated_passwords():
    plan = plan_for(b"login;password;role;classe\nalice;given-pw;student;T1\nbob;;prof;\n")
    assert [(p.login, p.password_source) for p in plan.create] == [("alice", "given"), ("bob", "generated")]
    assert plan.create[0].password == "given-pw" and len(plan.create[1].password) >= 10


def test_json_never_contains_passwords():
    plan = plan_for(b"alice;very-secret-pw;\n")
    text = json.dumps(plan.to_json())
    assert "very-secret-pw" not in text
    assert set(plan.to_json()) >= {"format", "encoding", "delimiter", "create", "update", "unchanged",
                                   "absent", "rejected"}
    assert plan.to_json()["create"][0]["role"] == "student"


def test_reimport_is_unchanged_and_keeps_passwords():
    managed = [account("alice", classes=["T1"])]
    plan = plan_for(b"login;password;classe\nalice;new-pw;T1\n", managed)
    assert [p.login for p in plan.unchanged] == ["alice"] and not plan.create and not plan.update
    assert plan.unchanged[0].password == ""  # kept: no new password without a reset


def test_reset_passwords_updates_password():
    plan = plan_for(b"alice;new-pw;\n", [account("alice")], reset_passwords=True)
    assert plan.update[0].password == "new-pw" and "password" in plan.update[0].changes


def test_class_and_role_change_are_updates():
    plan = plan_for(b"login;classe;profil\nalice;T2;prof\n", [account("alice", classes=["T1"])])
    assert plan.update[0].changes == {"role": ("student", "teacher"), "classes": (["T1"], ["T2"])}


def test_historical_file_keeps_classes_it_does_not_know():
    plan = plan_for(b"alice;pw;\n", [account("alice", classes=["T1"])])
    assert [p.login for p in plan.unchanged] == ["alice"]


def test_absent_accounts_listed_never_deleted():
    plan = plan_for(b"alice;pw;\n", [account("alice"), account("zoe")])
    assert [p.login for p in plan.absent] == ["zoe"]


def test_existing_unmanaged_system_account_rejected():
    plan = plan_for(b"postgres;pw;\ncloudsdk;pw;1\nalice;pw;\n")
    assert {r.login for r in plan.rejected} == {"postgres", "cloudsdk"}
    assert [p.login for p in plan.create] == ["alice"]


def test_derived_logins_collide_with_existing_accounts(rosters):
    data = (rosters / "siecle-eleves-par-division.csv").read_bytes()
    plan = plan_for(data, [account("lea.dupont", classes=["2nde1"])])
    created = {p.login for p in plan.create}
    assert {"lea.dupont2", "lea.dupont3"} <= created and "lea.dupont" not in created


def test_derived_logins_are_stable_across_reimports(rosters):
    data = (rosters / "siecle-eleves-par-division.csv").read_bytes()
    first = plan_for(data)
    managed = [account(p.login, classes=p.classes, first_name=p.first_name, last_name=p.last_name,
                       identity_key=p.identity_key, birth_date=p.birth_date) for p in first.create]
    second = plan_for(data, managed)
    assert not second.create and not second.update and len(second.unchanged) == 10


def test_a_login_named_like_a_system_group_or_a_jhub_admin_group_is_rejected():
    roster = read_roster(b"tape;Passw0rd-long;\nlea;Passw0rd-long;\njh-students;Passw0rd-long;\n")
    plan = make_plan(roster, {}, system_logins={"root"}, system_groups={"tape", "root"})
    assert [p.login for p in plan.create] == ["lea"]
    reasons = {r.login: r.reason for r in plan.rejected}
    assert reasons["tape"] == "the name of an existing group of the system"
    assert "jhub-admin's own groups" in reasons["jh-students"]


def rejected(plan):
    return {r.login: r.reason for r in plan.rejected}


def test_an_import_cannot_demote_or_reset_the_admin_who_runs_it():
    managed = [account("direction", role="admin"), account("adjoint", role="admin")]
    demote = b"login;password;role\ndirection;;teacher\n"
    plan = plan_for(demote, managed, acting_admin="direction")
    assert "admin running this import" in rejected(plan)["direction"] and not plan.update
    plan = plan_for(b"login;password;role\ndirection;New-Passw0rd-1;admin\n", managed, reset_passwords=True,
                    acting_admin="direction")
    assert "admin running this import" in rejected(plan)["direction"] and not plan.update
    # Another admin may be demoted while an admin is left, and the line without change goes by.
    plan = plan_for(b"login;password;role\nadjoint;;teacher\ndirection;;admin\n", managed, acting_admin="direction")
    assert [p.login for p in plan.update] == ["adjoint"] and [p.login for p in plan.unchanged] == ["direction"]


def test_an_import_cannot_demote_or_reset_the_last_admin():
    managed = [account("direction", role="admin"), account("adjoint", role="admin")]
    # The CLI (no acting admin): both admins demoted in one file; the second one is the last.
    plan = plan_for(b"login;password;role\ndirection;;teacher\nadjoint;;student\n", managed)
    assert [p.login for p in plan.update] == ["direction"]
    assert "last admin" in rejected(plan)["adjoint"]
    plan = plan_for(b"login;password;role\nsolo;;admin\n", [account("solo", role="admin")], reset_passwords=True)
    assert "last admin" in rejected(plan)["solo"]


def test_admin_rights_beside_a_teacher_are_planned_and_a_silent_line_keeps_them():
    managed = [account("m.durand", role="teacher", hub_admin=True), account("p.leroy", role="teacher"),
               account("direction", role="admin")]
    silent = plan_for(b"login;password;role\nm.durand;;prof\np.leroy;;prof\n", managed)
    assert sorted(p.login for p in silent.unchanged) == ["m.durand", "p.leroy"]
    assert silent.unchanged[0].hub_admin and silent.to_json()["unchanged"][0]["admin"] is True
    given = plan_for(b"login;password;role;admin\nm.durand;;prof;non\np.leroy;;prof;oui\n", managed)
    assert {p.login: p.changes for p in given.update} == {"m.durand": {"hub_admin": (True, False)},
                                                          "p.leroy": {"hub_admin": (False, True)}}
    new = plan_for(b"login;password;role\nn.prof;;enseignant+admin\n", managed).create[0]
    assert (new.role, new.hub_admin, new.is_admin) == ("teacher", True, True)
    # An admin who becomes a teacher with admin rights is still an admin: not the last admin's demotion.
    moved = plan_for(b"login;password;role\ndirection;;prof+admin\n", [account("direction", role="admin")])
    assert moved.update[0].changes == {"role": ("admin", "teacher"), "hub_admin": (False, True)}


def test_the_last_admin_who_is_a_teacher_keeps_the_rights_and_the_acting_one_too():
    managed = [account("m.durand", role="teacher", hub_admin=True)]
    plan = plan_for(b"login;password;role;admin\nm.durand;;prof;non\n", managed)
    assert "last admin" in rejected(plan)["m.durand"] and not plan.update
    managed.append(account("direction", role="admin"))
    plan = plan_for(b"login;password;role;admin\nm.durand;;prof;non\n", managed, acting_admin="m.durand")
    assert "admin running this import" in rejected(plan)["m.durand"]
    plan = plan_for(b"login;password;role;admin\nm.durand;;prof;non\n", managed, acting_admin="direction")
    assert [p.login for p in plan.update] == ["m.durand"]


def test_an_account_whose_name_or_ids_the_machine_gives_to_someone_else_is_not_made():
    from types import SimpleNamespace as Account
    from jhub_admin_service.accounts.local import conflicts
    wanted = [Account(login="ok", uid=10000, gid=10000), Account(login="tape", uid=10001, gid=10001),
              Account(login="uid.taken", uid=10002, gid=10002), Account(login="gid.taken", uid=10003, gid=10003)]
    found = conflicts(wanted, users={"root": 0, "other": 10002}, groups={"tape": 26, "jh-admins": 10003})
    assert set(found) == {"tape", "uid.taken", "gid.taken"}
    assert "group named tape" in found["tape"] and "belongs to other" in found["uid.taken"]
    assert "jh-admins" in found["gid.taken"]


def siecle(*lines):
    return ("NOM;PRENOM;NE(E) LE;DIV.\n" + "".join(f"{line}\n" for line in lines)).encode()


def managed_from(plan):
    """The accounts that applying plan would make, as the registry would hold them."""
    return [account(p.login, classes=p.classes, first_name=p.first_name, last_name=p.last_name,
                    identity_key=p.identity_key, external_id=p.external_id) for p in plan.create]


def test_a_corrected_name_renames_the_account_instead_of_making_a_second_one():
    first = plan_for(siecle("PERIN;Jade;02/05/2009;1G2", "MARTIN;Noé;13/11/2009;1G2"))
    managed = managed_from(first)
    assert {p.login for p in first.create} == {"jade.perin", "noe.martin"}
    second = plan_for(siecle("PERRIN;Jade;02/05/2009;TG3", "MARTIN;Noé;13/11/2009;TG3"), managed)
    assert not second.create and not second.absent
    renamed = {p.login: p for p in second.update}["jade.perin"]
    assert renamed.renamed and renamed.changes["last_name"] == ("PERIN", "PERRIN")
    assert renamed.to_json()["renamed"] is True and "renamed" not in {p.login: p for p in second.update}[
        "noe.martin"].to_json()


def test_twins_and_strangers_are_never_taken_for_a_renamed_pupil():
    managed = managed_from(plan_for(siecle("DURAND;Léa;01/01/2009;2nde1", "DURAND;Léo;01/01/2009;2nde1")))
    # Both twins in the new list: each keeps their own account.
    both = plan_for(siecle("DURAND;Léo;01/01/2009;1G1", "DURAND;Léa;01/01/2009;1G1"), managed)
    assert not both.create and {p.login for p in both.update} == {"lea.durand", "leo.durand"}
    assert not any(p.renamed for p in both.update)
    # Another pupil born the same day, with another name: a new account, the old one absent.
    other = plan_for(siecle("MOREAU;Chloé;01/01/2009;1G1", "DURAND;Léo;01/01/2009;1G1"), managed)
    assert [p.login for p in other.create] == ["chloe.moreau"] and [p.login for p in other.absent] == ["lea.durand"]
    # Two accounts alike enough to be the corrected one: none is guessed.
    managed += [account("lea.durant", identity_key="durant|lea|01/01/2009")]
    guess = plan_for(siecle("DURANS;Léa;01/01/2009;1G1"), managed)
    assert [p.login for p in guess.create] == ["lea.durans"]


def test_the_list_s_identifier_follows_a_person_through_any_correction():
    ine = "INE;NOM;PRENOM;NE(E) LE;DIV.\n{};{};{};02/05/2009;1G2\n"
    first = plan_for(ine.format("123456789AB", "ROUSSEAU", "Camille").encode())
    managed = managed_from(first)
    assert first.create[0].external_id == "123456789AB"
    moved = plan_for(ine.format("123456789AB", "LEFÈVRE", "Camille-Anne").encode(), managed)
    assert not moved.create and moved.update[0].login == "camille.rousseau" and moved.update[0].renamed
    # An account made before the lists carried the identifier gains it (and the birth date that
    # tells namesakes apart), shown in the preview.
    older = [account("camille.rousseau", identity_key="rousseau|camille|02/05/2009", first_name="Camille",
                     last_name="ROUSSEAU", classes=["1G2"])]
    gains = plan_for(ine.format("123456789AB", "ROUSSEAU", "Camille").encode(), older)
    assert gains.update[0].changes == {"external_id": ("", "123456789AB"), "birth_date": ("", "02/05/2009")}


def test_an_identifier_that_is_not_one_never_hands_an_account_to_someone_else():
    # A sheet's row numbers in an "ID" column: not read as an identifier at all.
    rows = "ID;Nom;Prenom;Classe\n1;Alpha;Anne;2C\n2;Beta;Bob;2C\n"
    managed = managed_from(plan_for(rows.encode()))
    again = plan_for("ID;Nom;Prenom;Classe\n1;Beta;Bob;2C\n2;Gamma;Gil;2C\n".encode(), managed)
    assert [p.login for p in again.unchanged] == ["bob.beta"] and [p.login for p in again.create] == ["gil.gamma"]
    # The same identifier on two lines, or on two accounts: used for none of them.
    ine = "INE;NOM;PRENOM;NE(E) LE;DIV.\n"
    twice = plan_for((ine + "X1;DUPONT;Jean;01/01/2009;2C\nX1;MARTIN;Louis;02/02/2009;2C\n").encode(),
                     [account("jean.dupont", external_id="X1", identity_key="dupont|jean|01/01/2009")])
    assert [p.login for p in twice.update + twice.unchanged] == ["jean.dupont"]  # by names and birth date
    assert [p.login for p in twice.create] == ["louis.martin"]
    # An identifier shared with nothing else of the line (no date, no name alike): a new account.
    stranger = plan_for((ine + "X2;GAMMA;Gil;03/03/2010;2C\n").encode(),
                        [account("jean.dupont", external_id="X2", identity_key="dupont|jean|01/01/2009")])
    assert [p.login for p in stranger.create] == ["gil.gamma"]


def test_a_partial_list_never_gives_an_absent_pupil_s_account_to_another_one():
    siecle_ = "NOM;PRENOM;NE(E) LE;DIV.\n"
    managed = managed_from(plan_for((siecle_ + "MARTIN;Louis;01/01/2009;2C\n").encode()))
    managed += [account("l.martin", role="teacher", hub_admin=True, identity_key="martin|louise|01/01/2009")]
    # Louise, born the same day (a twin), in a list without Louis: her own new account.
    plan = plan_for((siecle_ + "MARTIN;Louise;01/01/2009;2C\n").encode(), managed)
    assert [p.login for p in plan.create] == ["louise.martin"] and not plan.update
    # Without a birth date (the class stands in), no corrected name is guessed.
    by_class = managed_from(plan_for("NOM;PRENOM;CLASSE\nPERIN;Jade;1G2\n".encode()))
    plan = plan_for("NOM;PRENOM;CLASSE\nPERRIN;Jade;1G2\n".encode(), by_class)
    assert [p.login for p in plan.create] == ["jade.perrin"]




def test_a_new_year_s_lists_are_previewed_as_one_plan():
    """The pupils' SIECLE export and the teachers' ENT export, read together: each in its own
    format, each line told by its file, a login on two files rejected on both, and the absent
    are whoever none of the files lists."""
    from pathlib import Path

    from jhub_admin_service.accounts.roster import read_rosters

    folder = Path(__file__).resolve().parents[1] / "data" / "rosters"
    siecle = (folder / "siecle-eleves-par-division.csv").read_bytes()
    ent = (folder / "ent-export-comptes.csv").read_bytes()
    both = read_rosters([("eleves.csv", siecle), ("profs.csv", ent)])
    alone = [read_roster(siecle), read_roster(ent)]
    assert both.format == f"{alone[0].format} + {alone[1].format}"
    assert len(both.entries) == sum(len(r.entries) for r in alone)
    assert {e.where.split(":")[0] for e in both.entries} == {"eleves.csv", "profs.csv"}
    first_ent = next(e for e in both.entries if e.where.startswith("profs.csv:"))
    assert first_ent.where == f"profs.csv:{alone[1].entries[0].line}" and first_ent.line > both.entries[0].line
    managed = {"parti": account("parti", classes=["2nde3"])}
    plan = make_plan(both, managed, system_logins=set())
    assert [p.login for p in plan.absent] == ["parti"]
    assert {p.where.split(":")[0] for p in plan.create} == {"eleves.csv", "profs.csv"}
    # The same login on both files: neither line is applied, and both say where the other is.
    twice = b"login;role;class\ncamille.rousseau;student;1G1\n"
    merged = read_rosters([("profs.csv", ent), ("rattrapage.csv", twice)])
    refused = [r for r in merged.rejected if r.login == "camille.rousseau"]
    assert len(refused) == 2 and "profs.csv:2" in refused[0].reason and "rattrapage.csv:2" in refused[0].reason
    assert "camille.rousseau" not in {e.login for e in merged.entries}
    with pytest.raises(RosterError, match="^vide.csv: "):
        read_rosters([("profs.csv", ent), ("vide.csv", b"")])


def test_a_given_password_shorter_than_the_password_pages_rule_is_flagged_and_still_applied():
    """Issue 20, point 11: the preview says why; the admin may apply it knowingly."""
    plan = plan_for(b"eleve1;abc;\neleve2;Assez-long-12;\nprof1;1234567;1\neleve3;;\n")
    by_login = {a.login: a for a in plan.create}
    assert by_login["eleve1"].weak_password == (
        "a password of 3 character(s), shorter than the 8 that the password page asks for")
    assert by_login["prof1"].to_json()["weak_password"].startswith("a password of 7 character(s)")
    assert not by_login["eleve2"].weak_password and not by_login["eleve3"].weak_password  # generated: strong
    assert by_login["eleve1"].password == "abc"  # applied as given
    kept = plan_for(b"eleve1;abc;\n", managed=[account("eleve1")])
    assert not kept.unchanged[0].weak_password  # an existing account keeps its password: nothing applied
