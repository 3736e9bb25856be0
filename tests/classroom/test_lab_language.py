"""JupyterLab in the browser's language until its user picks one (classroom/lab_language): the
rule, and the settings API of a real JupyterLab server with the extension."""
import json

import pytest

from jhub_admin_service.classroom.lab_language import TRANSLATION_PLUGIN, browser_language, language_pack_installed
from jupyter_servers import jupyter_server

TOKEN = "lab-language-test-token"


@pytest.mark.parametrize("header, language", [
    ("fr-FR,fr;q=0.9,en;q=0.8", "fr"), ("en-GB,en;q=0.9", "en"), ("en-US", "en"), ("", "fr"),
    ("de-DE,de;q=0.9", "fr"), ("de-DE,en;q=0.5,fr;q=0.4", "en"), ("fr;q=0.2,en;q=0.9", "en"),
    ("en;q=0,fr", "fr"), ("en;q=abc,fr", "fr"), ("*", "fr"),
])
def test_the_language_is_the_first_of_french_and_english_the_browser_names(header, language):
    assert browser_language(header) == language


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("home")
    env = {"JUPYTERLAB_SETTINGS_DIR": str(root / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(root / "ws"),
           "PATH": "/usr/bin:/bin", "HOME": str(root)}
    with jupyter_server(root, ["jhub_admin_service.classroom.lab_language"], TOKEN, env) as running:
        yield running


def locale_default(session, url, accept_language, listed=False):
    headers = {"Accept-Language": accept_language}
    if listed:
        plugins = session.get(url + "lab/api/settings", headers=headers).json()["settings"]
        plugin = next(p for p in plugins if p["id"] == TRANSLATION_PLUGIN)
    else:
        plugin = session.get(url + "lab/api/settings/" + TRANSLATION_PLUGIN, headers=headers).json()
    return plugin["schema"]["properties"]["locale"]["default"], plugin["settings"].get("locale")


def menu_label(session, url, accept_language):
    """The File menu's label as the server sends it: translated by jupyterlab_server itself."""
    plugin = session.get(url + "lab/api/settings/@jupyterlab/mainmenu-extension:plugin",
                         headers={"Accept-Language": accept_language}).json()
    return next(m["label"] for m in plugin["schema"]["jupyter.lab.menus"]["main"] if m["id"] == "jp-mainmenu-file")


def test_jupyterlab_s_default_language_is_the_browser_s_until_the_user_picks_one(lab):
    url, session = lab
    french = "fr_FR" if language_pack_installed("fr") else "default"  # JupyterLab's own, without the pack
    for listed in (False, True):  # one plugin's settings, and all of them (JupyterLab asks for both)
        assert locale_default(session, url, "en-GB,en;q=0.9", listed) == ("en", None)
        assert locale_default(session, url, "fr-FR,fr;q=0.9", listed) == (french, None)
    assert menu_label(session, url, "en-GB,en;q=0.9") == "File"
    if language_pack_installed("fr"):
        assert menu_label(session, url, "fr-FR,fr;q=0.9") == "Fichier"
    # The user picks French in Settings -> Language: JupyterLab saves it, and it wins everywhere.
    r = session.put(url + "lab/api/settings/" + TRANSLATION_PLUGIN, data=json.dumps({"raw": '{"locale": "fr_FR"}'}),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 204, r.text
    for listed in (False, True):
        default, chosen = locale_default(session, url, "en-GB,en;q=0.9", listed)
        assert chosen == "fr_FR" and default != "en"
