"""Logging in with the ENT: what each ENT family answers, read as one identity; which account it
opens, from the registry that the class lists made; what is recorded for the admin."""
import time

import pytest

from jhub_admin_service.accounts.registry import Account, Registry
from jhub_admin_service.accounts.roster import read_roster
from jhub_admin_service.ent import config as entconfig
from jhub_admin_service.ent.identity import PUPIL, STAFF, OTHER, UNKNOWN, identity_from, identity_from_json, NoSubject
from jhub_admin_service.ent.links import EntLinks, LinkRefused
from jhub_admin_service.ent.matching import (AMBIGUOUS, DISABLED, NOT_A_MEMBER, OTHER_SCHOOL, TAKEN, UNKNOWN_PERSON,
                                             WRONG_ROLE, Candidate, Match, Refused, match)

ENTCORE_PUPIL = {"userId": "5c3e-11", "externalId": "4519201", "login": "camille.rousseau", "username": "Camille",
                 "firstName": "Camille", "lastName": "ROUSSEAU", "type": "ELEVE", "uai": ["0751234A"],
                 "classNames": ["T NSI"]}
OIDC_TEACHER = {"sub": "a4", "preferred_username": "sophie.lambert", "given_name": "Sophie", "family_name": "Lambert",
                "profile": "National_3", "uai": "0751234a"}
CAS_PARENT = {"user": "m.rousseau", "ENTPersonProfils": "National_2", "ENTPersonJointure": "AC-PARIS$889",
              "ENTPersonStructRattachRNE": "0751234A"}


def test_each_family_s_answer_reads_as_one_identity():
    pupil = identity_from(ENTCORE_PUPIL)
    assert (pupil.subject, pupil.external_id, pupil.login, pupil.kind, pupil.uais) == \
        ("5c3e-11", "4519201", "camille.rousseau", PUPIL, ("0751234A",))
    assert pupil.display_name == "Camille ROUSSEAU" and pupil.identifiers == ("4519201", "5c3e-11")
    teacher = identity_from(OIDC_TEACHER)
    assert (teacher.subject, teacher.login, teacher.kind, teacher.uais) == ("a4", "sophie.lambert", STAFF, ("0751234A",))
    parent = identity_from(CAS_PARENT)
    assert (parent.subject, parent.external_id, parent.kind) == ("m.rousseau", "AC-PARIS$889", OTHER)
    assert identity_from({"sub": "x"}).kind == UNKNOWN
    # Both a pupil's and a staff profile: a pupil (the fewer rights).
    assert identity_from({"sub": "x", "type": ["Teacher", "Student"]}).kind == PUPIL
    assert identity_from_json(pupil.to_json()) == pupil
    with pytest.raises(NoSubject):
        identity_from({"firstName": "Nobody"})


def candidates():
    return [Candidate("camille.rousseau", "student", external_id="4519201"),
            Candidate("sophie.lambert", "teacher", external_id="a4"),
            Candidate("chef", "teacher", is_admin=True, external_id="a9"),
            Candidate("hugo.fournier", "student", external_id="a2", disabled=True),
            Candidate("twin1", "student", external_id="T-1"), Candidate("twin2", "student", external_id="t1")]


def test_an_identity_opens_the_account_its_list_identifier_names_and_never_another():
    assert match(identity_from(ENTCORE_PUPIL), candidates(), {}) == Match("camille.rousseau", "identifier")
    # The entcore export's Id is the ENT's own identifier (userId): it matches too.
    assert match(identity_from({"sub": "a4", "type": "Teacher"}), candidates(), {}) == Match("sophie.lambert", "identifier")
    # A known link wins over the identifiers.
    assert match(identity_from(ENTCORE_PUPIL), candidates(), {"5c3e-11": "twin1"}) == Match("twin1", "link")
    # A display name or a login alone never matches.
    nobody = identity_from({"sub": "zz", "login": "camille.rousseau", "firstName": "Camille", "lastName": "Rousseau"})
    assert match(nobody, candidates(), {}) == Refused(UNKNOWN_PERSON)
    # Two accounts with the same identifier (as folded): neither.
    assert match(identity_from({"sub": "q", "externalId": "T1"}), candidates(), {}) == Refused(AMBIGUOUS, "twin1,twin2")


def test_a_pupil_never_opens_a_teacher_s_or_an_admin_s_account():
    for answer in ({"sub": "a4", "type": "ELEVE"}, {"sub": "a4"}, {"sub": "x", "externalId": "a9", "type": "Student"}):
        decision = match(identity_from(answer), candidates(), {})
        assert isinstance(decision, Refused) and decision.reason == WRONG_ROLE
    # Not through a link either (an admin's mistaken link, a forged subject).
    assert match(identity_from({"sub": "p", "type": "ELEVE"}), candidates(), {"p": "chef"}) == Refused(WRONG_ROLE, "chef")
    # Staff do not open pupils' accounts; parents open nothing.
    assert match(identity_from({"sub": "s", "externalId": "4519201", "type": "ENSEIGNANT"}), candidates(), {}) == \
        Refused(WRONG_ROLE, "camille.rousseau")
    assert match(identity_from(CAS_PARENT), candidates(), {}) == Refused(NOT_A_MEMBER)


def test_another_school_a_disabled_account_and_a_taken_account_are_refused():
    pupil = identity_from(ENTCORE_PUPIL)
    assert match(pupil, candidates(), {}, school_uai="0751234a") == Match("camille.rousseau", "identifier")
    assert match(pupil, candidates(), {}, school_uai="0930001Z") == Refused(OTHER_SCHOOL)
    assert match(identity_from({"sub": "x", "externalId": "4519201"}), candidates(), {}, "0751234A") == Refused(OTHER_SCHOOL)
    assert match(identity_from({"sub": "h", "externalId": "a2", "type": "ELEVE"}), candidates(), {}) == \
        Refused(DISABLED, "hugo.fournier")
    other = identity_from({"sub": "other", "externalId": "4519201", "type": "ELEVE"})
    assert match(other, candidates(), {"5c3e-11": "camille.rousseau"}) == Refused(TAKEN, "camille.rousseau")


def registry_from_ent_export(tmp_path, text):
    """A registry with the accounts that an import of this ENT export makes."""
    registry = Registry(str(tmp_path / "registry.sqlite"))
    roster = read_roster(text.encode())
    with registry.transaction() as db:
        for uid, entry in enumerate(roster.entries, start=10000):
            registry.insert(db, Account(login=entry.login, uid=uid, gid=uid, role=entry.role,
                                        external_id=entry.external_id, password_hash="!"))
    return registry


ISSUER = "oidc https://ent.example.fr"
ENT_EXPORT = ('"Id";"Type";"Nom";"Prénom";"Identifiant";"Classes"\n"a1";"Élève";"Rousseau";"Camille";"camille.rousseau";"T NSI"\n'
              '"a4";"Enseignant";"Lambert";"Sophie";"sophie.lambert";""\n')


def test_a_first_login_links_the_identity_and_a_refusal_is_kept_for_the_dashboard(tmp_path):
    registry = registry_from_ent_export(tmp_path, ENT_EXPORT)
    links = EntLinks(registry, ISSUER)
    camille = identity_from({"sub": "a1", "type": "ELEVE", "firstName": "Camille", "login": "crousseau"})
    assert links.resolve(camille) == Match("camille.rousseau", "identifier")
    assert links.resolve(camille) == Match("camille.rousseau", "link")
    link = links.by_login()["camille.rousseau"]
    assert (link.subject, link.ent_login, link.how) == ("a1", "crousseau", "identifier")

    stranger = identity_from({"sub": "zz9", "type": "ELEVE", "firstName": "Inconnu"})
    assert links.resolve(stranger) == Refused(UNKNOWN_PERSON)
    links.resolve(stranger)
    [kept] = links.unmatched()
    assert (kept.subject, kept.reason, kept.attempts, kept.identity["first_name"]) == ("zz9", UNKNOWN_PERSON, 2, "Inconnu")

    # The admin matches it by hand, within the same rules; the refusal goes from the dashboard.
    with pytest.raises(LinkRefused):
        links.link(identity_from_json(kept.identity), "sophie.lambert")
    links.unlink("camille.rousseau")
    links.link(identity_from_json(kept.identity), "camille.rousseau")
    assert links.unmatched() == [] and links.resolve(stranger) == Match("camille.rousseau", "link")
    assert links.resolve(camille) == Refused(TAKEN, "camille.rousseau")


def test_removing_an_account_removes_its_link(tmp_path):
    registry = registry_from_ent_export(tmp_path, ENT_EXPORT)
    links = EntLinks(registry, ISSUER)
    assert links.resolve(identity_from({"sub": "a1", "type": "ELEVE"})).login == "camille.rousseau"
    with registry.transaction() as db:
        registry.delete(db, "camille.rousseau")
    assert links.by_login() == {}


def test_an_older_registry_opened_read_only_has_no_links(tmp_path):
    import sqlite3
    path = tmp_path / "old.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE accounts (login TEXT)").connection.close()
    assert EntLinks(Registry(str(path), readonly=True), ISSUER).subjects() == {}


def test_the_settings_page_s_values_are_checked():
    config = entconfig.checked(family="oidc", name=" MonLycée.net ", url="https://ent.example.fr/", client_id="hub",
                               uai="0751234a", local_roles=["teacher"])
    assert (config.name, config.url, config.uai, config.local_roles) == ("MonLycée.net", "https://ent.example.fr",
                                                                         "0751234A", ("teacher",))
    assert config.local_password_allowed("teacher", False) and not config.local_password_allowed("student", False)
    assert config.local_password_allowed("student", True)  # an admin keeps the local password
    assert entconfig.from_json(config.to_json()) == config
    assert "secret" not in str(entconfig.checked(family="entcore", url="https://e.fr", client_id="a", client_secret="secret"))
    for bad in ({"family": "saml", "url": "https://e.fr"}, {"family": "oidc", "url": "ent.example.fr", "client_id": "a"},
                {"family": "oidc", "url": "https://e.fr"}, {"uai": "075123"}):
        with pytest.raises(entconfig.EntSettingRefused):
            entconfig.checked(**bad)
    assert not entconfig.from_json({"family": "oidc"}).enabled


def test_each_family_s_endpoints():
    entcore = entconfig.oauth_endpoints(entconfig.checked(family="entcore", url="https://ent.fr", client_id="a"))
    assert entcore["token_url"] == "https://ent.fr/auth/oauth2/token" and entcore["basic_auth"]
    assert entcore["scope"] == ["userinfo"] and entcore["logout_url"] == ""
    oidc = entconfig.checked(family="oidc", url="https://idp.fr", client_id="a")
    found = entconfig.oauth_endpoints(oidc, {"authorization_endpoint": "https://idp.fr/auth", "token_endpoint": "t",
                                             "userinfo_endpoint": "u", "end_session_endpoint": "https://idp.fr/end",
                                             "scopes_supported": ["openid", "email", "ent"],
                                             "token_endpoint_auth_methods_supported": ["client_secret_post"]})
    assert found["scope"] == ["openid", "email"] and not found["basic_auth"] and found["logout_url"] == "https://idp.fr/end"


def test_the_cas_service_address_is_rebuilt_the_same_at_the_callback():
    from jhub_admin_service.ent import cas
    config = entconfig.checked(family="cas", url="https://ent.example.fr/cas/", cas_version="2")
    assert (config.url, config.cas_version, config.enabled) == ("https://ent.example.fr/cas", 2, True)
    service = cas.service_url("https://jupyter.lycee.fr/", "/hub/", "/hub/spawn?x=1&y=2")
    assert service == "https://jupyter.lycee.fr/hub/cas_callback?next=%2Fhub%2Fspawn%3Fx%3D1%26y%3D2"
    # CAS 2 validates at serviceValidate, CAS 3 at p3/serviceValidate (the attributes); both under
    # the server's address, whatever its path.
    assert cas.login_url(config, service).startswith("https://ent.example.fr/cas/login?service=https%3A%2F%2Fjupyter")
    # CAS 2 names the way back "url", CAS 3 "service".
    assert cas.logout_url(config, "https://jupyter.lycee.fr/hub/login") == \
        "https://ent.example.fr/cas/logout?url=https%3A%2F%2Fjupyter.lycee.fr%2Fhub%2Flogin"
    assert type(cas.client(config)).__name__ == "CASClientV2"
    assert type(cas.client(entconfig.checked(family="cas", url="https://e.fr/cas"))).__name__ == "CASClientV3"


def test_a_cas_single_logout_names_the_user_its_ticket_logged_in():
    from jhub_admin_service.ent import cas
    request = ('<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
               'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="x" Version="2.0" IssueInstant="now">'
               '<saml:NameID>@NOT_USED@</saml:NameID><samlp:SessionIndex>ST-42-abc</samlp:SessionIndex>'
               '</samlp:LogoutRequest>')
    assert cas.logged_out_ticket(request) == "ST-42-abc"
    assert cas.logged_out_ticket("<not xml") is None and cas.logged_out_ticket("<a/>") is None
    sessions = cas.Sessions(kept=2)
    sessions.logged_in("ST-1", "camille.rousseau")
    sessions.logged_in("ST-42-abc", "hugo.fournier")
    assert sessions.logged_out("ST-42-abc") == "hugo.fournier" and sessions.logged_out("ST-42-abc") is None
    sessions.logged_in("ST-2", "a")
    sessions.logged_in("ST-3", "b")  # the oldest is forgotten past the bound
    assert sessions.logged_out("ST-1") is None and sessions.logged_out("ST-3") == "b"


def test_another_ent_s_subjects_never_open_an_account_that_this_ent_linked(tmp_path):
    """A school that changes its ENT: the old ENT's links are not the new one's (its subjects may
    be the same strings for other people), and they do not keep the accounts from linking."""
    registry = registry_from_ent_export(tmp_path, ENT_EXPORT)
    old, new = EntLinks(registry, "cas https://old.example.fr/cas"), EntLinks(registry, ISSUER)
    assert old.resolve(identity_from({"user": "42", "externalId": "a1", "type": "ELEVE"})).login == "camille.rousseau"
    assert new.resolve(identity_from({"sub": "42", "type": "ELEVE"})) == Refused(UNKNOWN_PERSON)
    assert new.resolve(identity_from({"sub": "n-1", "externalId": "a1", "type": "ELEVE"})) == \
        Match("camille.rousseau", "identifier")
    assert set(old.by_login()) == set(new.by_login()) == {"camille.rousseau"}
    assert [u.subject for u in new.unmatched()] == ["42"] and old.unmatched() == []


def test_an_ent_that_names_its_fields_otherwise_is_read_with_the_names_the_admin_set():
    answer = {"sub": "u-9", "numero_annuaire": "a1", "categorie_ent": "élève", "type": "Teacher"}
    assert identity_from(answer).external_id == "" and identity_from(answer).kind == STAFF
    config = entconfig.checked(family="oidc", url="https://e.fr", client_id="x", id_field="numero_annuaire",
                               type_field="categorie_ent")
    named = identity_from(answer, entconfig.field_names(config))
    assert (named.external_id, named.kind) == ("a1", PUPIL)
    with pytest.raises(entconfig.EntSettingRefused):
        entconfig.checked(id_field="two words")
