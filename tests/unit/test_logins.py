from jhub_admin_service.accounts.logins import (
    class_slug, derive_login, fold_ascii, generate_password, login_problem, unique_login)


def test_fold_ascii_special_letters():
    assert fold_ascii("Œuvre Æther Çà ß Ølaf") == "OEuvre AEther Ca ss Olaf"


def test_derive_login_names():
    assert derive_login("Léa", "DUPONT") == "lea.dupont"
    assert derive_login("Inès", "D'ALMEIDA") == "ines.dalmeida"
    assert derive_login("Marie-Ève", "BÉRANGER-ÇELIK") == "marie-eve.beranger-celik"
    assert derive_login("Anaïs", "VAN DER BERG") == "anais.van-der-berg"
    assert derive_login("Zoé", "O’BRIEN") == "zoe.obrien"


def test_derive_login_is_valid_and_short():
    login = derive_login("Jean-Christophe-Alexandre", "de La Rochefoucauld-Montmorency")
    assert len(login) <= 32 and login_problem(login) is None
    assert login_problem(derive_login("", "123")) is None


def test_unique_login_suffix_within_32():
    base = "a" * 32
    assert unique_login(base, {base}) == "a" * 31 + "2"
    assert unique_login("lea.dupont", {"lea.dupont", "lea.dupont2"}) == "lea.dupont3"


def test_generated_passwords_readable_and_random():
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for p in passwords:
        assert len(p.replace("-", "")) >= 10
        assert not set(p) & set("0O1lI")


def test_class_slug():
    assert class_slug("T NSI") == "t-nsi"
    assert class_slug("1ère G1") == "1ere-g1"
