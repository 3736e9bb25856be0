"""The feedback a student reads: nbgrader's feedback page in the student's language, without the
teacher's hidden tests. Given to nbgrader by configuration (``configure(c)``, called from the
image's /etc/jupyter/nbgrader_config.py), never by editing nbgrader's files.

- ``FeedbackExporter``: nbgrader's HTML exporter with the template ``jhub_feedback``, which
  extends nbgrader's own ``feedback`` template and says its words and scores through the ``jha_t``
  and ``jha_num`` filters: in the course's language (the server's ``LANG``), with the other one
  beside it, which the page's script shows to a browser that asks for it.
- ``HideHiddenTests``: autograding puts the hidden tests back into the test cells (to run them);
  for the feedback they are taken out again, and so is what their cell showed (a traceback
  quotes the lines around the failing one, hidden ones included): only the error's name stays,
  with a note.
"""
import html
import os

import nbformat
from nbconvert.exporters import HTMLExporter
from nbgrader.preprocessors import ClearHiddenTests

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
TEMPLATE = "jhub_feedback"
TEMPLATE_FILE = "feedback_page.html.j2"

WORDS_FR = {
    "Score:": "Note\u00a0:",
    "Test cell": "Cellule de test",
    "Coding free-response": "Réponse (code)",
    "Written response": "Réponse rédigée",
    "Task": "Tâche",
    "Comment": "Commentaire",
    "Comments:": "Commentaires\u00a0:",
    "Late submission penalty": "Pénalité de retard",
    "Student's answer": "Réponse de l'élève",
    "Student's task": "Tâche de l'élève",
    "Grade cell:": "Cellule notée\u00a0:",
    "Top": "Haut",
    "Hidden tests were run here; what they show stays with the teacher.":
        "Des tests cachés ont été exécutés ici\u00a0; leur détail reste chez l'enseignant.",
}


def course_is_french() -> bool:
    """A course speaks its server's language (LANG): French, or else English."""
    lang = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return lang.lower().startswith("fr")


def translate(text: str) -> str:
    """The words in the course's language."""
    return WORDS_FR.get(text, text) if course_is_french() else text


def in_both_languages(french: str, english: str) -> str:
    """Markup showing the course's language, with both for the page's script (the reader's language)."""
    shown = french if course_is_french() else english
    return (f'<span data-jha-fr="{html.escape(french)}" data-jha-en="{html.escape(english)}">'
            f"{html.escape(shown)}</span>")


def words(text: str) -> str:
    """The template's words (the ``jha_t`` filter)."""
    return in_both_languages(WORDS_FR.get(text, text), text)


def number(value) -> str:
    """A score (the ``jha_num`` filter): 2, 1.5 or 0.33, with a decimal comma in French."""
    english = ("%.2f" % float(value or 0)).rstrip("0").rstrip(".")
    return in_both_languages(english.replace(".", ","), english)


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter, with the jhub_feedback template and its filter."""

    def default_filters(self):
        yield from super().default_filters()
        yield "jha_t", words
        yield "jha_num", number


class HideHiddenTests(ClearHiddenTests):
    """Hidden tests out of the feedback: their source, and their cell's outputs but the error's name."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and self._remove_hidden_test_region(cell):
            failed = [out for out in cell.get("outputs", []) if out.get("output_type") == "error"]
            note = translate("Hidden tests were run here; what they show stays with the teacher.")
            cell.outputs = [nbformat.v4.new_output("error", ename=failed[0].get("ename", "Error"), evalue="",
                                                   traceback=[f"{failed[0].get('ename', 'Error')}: {note}"])
                            ] if failed else []
        return cell, resources


def configure(c) -> None:
    """The feedback's exporter, template and preprocessors, in an nbgrader configuration."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades

    import nbgrader

    nbgrader_templates = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader",
                                      "templates")
    c.GenerateFeedback.exporter_class = FeedbackExporter
    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
    c.FeedbackExporter.template_name = TEMPLATE
    # Not index.html.j2: it extends the index.html.j2 of nbgrader's feedback template, next on the path.
    c.FeedbackExporter.template_file = TEMPLATE_FILE
    c.FeedbackExporter.extra_template_basedirs = [TEMPLATES, nbgrader_templates]
