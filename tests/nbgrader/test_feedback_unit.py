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


def test_the_feedback_speaks_french_on_a_french_server_and_english_otherwise():
    html = render("fr_FR.UTF-8")
    for words in ("Réponse de l'élève", "Commentaires :", "Cellule de test", "Réponse rédigée", "Note :",
                  "Très bien"):
        assert words in html, words
    assert "Student's answer" not in html and "Comments:" not in html
    english = render("C.UTF-8")
    assert "Student's answer" in english and "Comments :" in english and "Réponse de l" not in english


def test_hidden_tests_never_reach_the_feedback():
    html = render("fr_FR.UTF-8")
    assert "carre(12)" not in html_text(html) and "secret du professeur" not in html and "BEGIN HIDDEN" not in html
    assert "assert carre(3) == 9" in html_text(html)  # the visible test stays
    assert "AssertionError" in html and "Des tests cachés ont été exécutés ici" in html
