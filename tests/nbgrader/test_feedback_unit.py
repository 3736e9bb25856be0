"""The feedback page (courses/feedback): nbgrader's feedback template in the server's language,
and no trace of the teacher's hidden tests, rendered by the exporter nbgrader is configured with."""
import html as html_lib
import os
import re

import nbformat
import pytest
from traitlets.config import Config

import nbgrader
from jhub_admin_service.courses import feedback

META = {"schema_version": 3}
HIDDEN = "assert carre(12) == 144, 'secret du professeur'"


def autograded_notebook():
    """A notebook as autograding leaves it: hidden tests back in the test cell, their traceback shown."""
    nb = nbformat.v4.new_notebook()
    test = nbformat.v4.new_code_cell(
        f"assert carre(3) == 9\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS",
        metadata={"nbgrader": {**META, "grade": True, "solution": False, "locked": True, "grade_id": "t",
                               "points": 2, "score": 0}})
    test.outputs = [nbformat.v4.new_output("stream", name="stdout", text="carre(12) = 24\n"),
                    nbformat.v4.new_output("error", ename="AssertionError", evalue="secret du professeur",
                                           traceback=[f"----> 3 {HIDDEN}", "AssertionError: secret du professeur"])]
    answer = nbformat.v4.new_markdown_cell("Le carré de x est x fois x.", metadata={"nbgrader": {
        **META, "grade": True, "solution": True, "locked": False, "grade_id": "m", "points": 1, "score": 1,
        "comment": "Très bien"}})
    nb.cells = [test, answer]
    return nb


def render(lang):
    """What GenerateFeedback renders, with the configuration of the image's nbgrader_config.py."""
    c = Config()
    feedback.configure(c)
    # What nbgrader's GenerateFeedback adds itself: its CSS folder.
    c.HTMLExporter.extra_template_paths = [os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions",
                                                        "formgrader", "static", "node_modules", "bootstrap", "dist",
                                                        "css")]
    exporter = c.GenerateFeedback.exporter_class(config=c)
    for preprocessor in c.GenerateFeedback.preprocessors:
        if preprocessor is feedback.HideHiddenTests:
            exporter.register_preprocessor(preprocessor, enabled=True)
    os.environ["LANG"] = lang
    html, _ = exporter.from_notebook_node(autograded_notebook(), resources={
        "nbgrader": {"notebook": "tp1", "score": 1, "max_score": 3, "late_penalty": 0}})
    return html


def html_text(html):
    """The page's text, without its tags (the code is highlighted)."""
    return html_lib.unescape(re.sub(r"<[^>]+>", "", html))


@pytest.fixture(autouse=True)
def keep_lang():
    before = os.environ.get("LANG")
    yield
    if before is None:
        os.environ.pop("LANG", None)
    else:
        os.environ["LANG"] = before


def test_the_feedback_speaks_the_course_s_language_with_the_other_one_beside_it():
    french = html_text(render("fr_FR.UTF-8"))
    for words in ("Réponse de l'élève", "Commentaires\u00a0:", "Cellule de test", "Réponse rédigée",
                  "tp1 (Note\u00a0: 1 / 3)", "Note\u00a0: 0 / 2", "Très bien"):
        assert words in french, words
    assert "Student's answer" not in french and "Comments:" not in french
    english = html_text(render("C.UTF-8"))
    assert "Student's answer" in english and "Comments: Très bien" in english and "tp1 (Score: 1 / 3)" in english
    assert "Réponse de l" not in english and " :" not in english
    # Each word and score carries both languages, for the page's script (a reader's other language).
    page = render("fr_FR.UTF-8")
    assert '<span data-jha-en="Comments:" data-jha-fr="Commentaires\u00a0:">Commentaires\u00a0:</span>' in page
    assert "navigator.languages" in page
    assert "In\u00a0[" not in html_text(page) and "Out[" not in html_text(page)  # prompts as JupyterLab's: [1]:


@pytest.mark.parametrize("value, french, english", [(2, "2", "2"), (1.5, "1,5", "1.5"), (1 / 3, "0,33", "0.33"),
                                                    (None, "0", "0"), ("3.0", "3", "3")])
def test_scores_have_a_decimal_comma_in_french(value, french, english, monkeypatch):
    for name in ("LC_ALL", "LC_MESSAGES"):  # read before LANG
        monkeypatch.delenv(name, raising=False)
    for lang, shown in (("fr_FR.UTF-8", french), ("C.UTF-8", english)):  # the course's language shows
        os.environ["LANG"] = lang
        assert feedback.number(value) == f'<span data-jha-fr="{french}" data-jha-en="{english}">{shown}</span>'


def test_hidden_tests_never_reach_the_feedback():
    html = render("fr_FR.UTF-8")
    assert "carre(12)" not in html_text(html) and "secret du professeur" not in html and "BEGIN HIDDEN" not in html
    assert "assert carre(3) == 9" in html_text(html)  # the visible test stays
    assert "AssertionError" in html and "Des tests cachés ont été exécutés ici" in html
