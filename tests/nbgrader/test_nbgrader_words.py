"""nbgrader's words in French (courses/nbgrader_words): the catalogue against the nbgrader that is
installed, and the server extension in a real Jupyter Server. The words on screen, in Chromium
and a preloaded server, are tested by the end-to-end teacher module (the pupil's journey)."""
import glob
import html
import json
import os
import re
import sys

import pytest

from jhub_admin_service.courses import nbgrader_words
from jhub_admin_service.service.catalogues import PLAIN_SPACE
from jupyter_servers import jupyter_server

CATALOGUE = json.load(open(os.path.join(nbgrader_words.CATALOGUES, "fr.json"), encoding="utf-8"))
TOKEN = "nbgrader-words-test-token"


def nbgrader_sources() -> str:
    """The text of nbgrader's interface as installed: its Formgrader's templates and scripts, its
    server extensions, and its JupyterLab extension's bundle; whitespace, escapes and entities
    undone as the browser undoes them. (Its settings' schema is not here: JupyterLab's settings
    editor is not translated.)"""
    import nbgrader
    root = os.path.dirname(nbgrader.__file__)
    files = [f for f in glob.glob(os.path.join(root, "**", "*"), recursive=True)
             if f.endswith((".tpl", ".js", ".py", ".j2", ".html")) and "node_modules" not in f]
    files += glob.glob(os.path.join(root, "server_extensions", "formgrader", "static", "node_modules",
                                    "datatables.net", "js", "*.js"))
    labextension = os.path.join(sys.prefix, "share", "jupyter", "labextensions", "@jupyter", "nbgrader", "static")
    files += glob.glob(os.path.join(labextension, "*.js"))
    assert any("labextensions" in f for f in files), "nbgrader's JupyterLab extension is not installed"
    text = " ".join(open(f, encoding="utf-8", errors="replace").read() for f in files)
    text = re.sub(r'"\s+"', "", text)  # Python's "adjacent " "literals"
    return normal(html.unescape(text.replace("\\n", " ").replace('\\"', '"').replace("\\'", "'")))


def normal(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_every_word_of_the_catalogue_is_one_nbgrader_writes():
    """An nbgrader upgrade that changes a text makes this fail: the catalogue is then updated
    (the text would otherwise stay in English on screen)."""
    sources = nbgrader_sources()
    unknown = [english for english in CATALOGUE["words"] if normal(english).strip() not in sources]
    assert not unknown, unknown


def test_the_patterns_are_whole_texts_and_their_fixed_words_are_nbgrader_s():
    sources = nbgrader_sources()
    for pattern, french in CATALOGUE["patterns"]:
        assert pattern.startswith("^") and pattern.endswith("$"), pattern
        compiled = re.compile(pattern)
        groups = compiled.groups
        assert all(f"${n}" in french for n in range(1, groups + 1)), (pattern, french)
        # the pattern's words are nbgrader's (its separators aside)
        for fixed in fixed_parts(pattern):
            assert len(fixed) < 6 or normal(fixed) in sources, (pattern, fixed)


def fixed_parts(pattern: str) -> list:
    """The literal texts of a pattern: between its groups, its escapes undone."""
    outside_groups = re.split(r"\((?:[^()\\]|\\.)*\)", pattern[1:-1])
    return [re.sub(r"\\(.)", r"\1", part).strip()
            for token in outside_groups for part in re.split(r"\\[sSdDwWn]", token)]


def test_the_french_follows_french_typography():
    texts = list(CATALOGUE["words"].values()) + [french for _, french in CATALOGUE["patterns"]]
    assert not [t for t in texts if PLAIN_SPACE.search(t)]


def test_words_that_nbgrader_s_scripts_read_back_are_left_in_english():
    """The gradebook's toggle compares its own label with "Show All Names": translated, it would
    stop working."""
    assert "Show All Names" not in CATALOGUE["words"] and "Hide All Names" not in CATALOGUE["words"]


@pytest.mark.parametrize("path, kind", [
    ("/user/eleve/lab", "app"), ("/user/eleve/lab/tree/tp1/tp1.ipynb", "app"), ("/user/eleve/tree", "app"),
    ("/user/eleve/notebooks/tp1.ipynb", "app"), ("/user/eleve/formgrader", "formgrader"),
    ("/user/eleve/formgrader/manage_assignments", "formgrader"), ("/user/eleve/formgrader/api/assignments", ""),
    ("/user/eleve/formgrader/static/js/x.js", ""), ("/user/eleve/files/lab", ""), ("/user/eleve/api/contents", ""),
    ("/user/autre/lab", ""), ("/user/eleve/laboratoire", ""),
])
def test_the_script_goes_into_jupyterlab_notebook_and_formgrader_pages_only(path, kind):
    assert nbgrader_words.page_kind(path, "/user/eleve/") == kind


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("home")
    (root / "lab").mkdir()
    (root / "lab" / "page.html").write_text("<html><body>Submit</body></html>")
    with jupyter_server(root, ["jhub_admin_service.courses.nbgrader_words"], TOKEN) as running:
        yield running


def test_jupyterlab_s_page_carries_the_script_and_the_catalogue_is_served(server):
    url, session = server
    lab = session.get(url + "lab").text
    tag = re.search(r'<script src="/user/eleve/jhub-admin/nbgrader-words/static/nbgrader-words.js"[^>]*>', lab)
    assert tag and 'data-page="app"' in tag.group(0), lab[-1500:]
    catalogue = re.search(r'data-catalogue="([^"]+)"', tag.group(0)).group(1)
    served = session.get(url.split("/user/")[0] + catalogue)
    assert served.status_code == 200 and served.json()["words"]["Fetch"] == "Récupérer"
    assert session.get(url + "jhub-admin/nbgrader-words/static/nbgrader-words.js").status_code == 200
    page = session.get(url + "files/lab/page.html").text
    assert "nbgrader-words" not in page  # a user's own HTML file is never changed
