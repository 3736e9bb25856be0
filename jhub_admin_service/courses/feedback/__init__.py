"""The feedback a student reads: nbgrader's feedback page in the student's language, without the
teacher's hidden tests. Given to nbgrader by configuration (``configure(c)``, called from the
image's /etc/jupyter/nbgrader_config.py), never by editing nbgrader's files.

- ``FeedbackExporter``: nbgrader's HTML exporter with the template ``jhub_feedback``, which
  extends nbgrader's own ``feedback`` template and says its words through the ``jha_t`` filter
  (French for a French server, ``LANG``; English otherwise).
- ``HideHiddenTests``: autograding puts the hidden tests back into the test cells (to run them);
  for the feedback they are taken out again, and so is what their cell showed (a traceback
  quotes the lines around the failing one, hidden ones included): only the error's name stays,
  with a note.
"""
import os

import nbformat
from nbconvert.exporters import HTMLExporter
from nbgrader.preprocessors import ClearHiddenTests

TEMPLATES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
TEMPLATE = "jhub_feedback"
TEMPLATE_FILE = "feedback_page.html.j2"

WORDS_FR = {
    "Score": "Note",
    "Test cell": "Cellule de test",
    "Coding free-response": "Réponse (code)",
    "Written response": "Réponse rédigée",
    "Task": "Tâche",
    "Comment": "Commentaire",
    "Comments": "Commentaires",
    "Late submission penalty": "Pénalité de retard",
    "Student's answer": "Réponse de l'élève",
    "Student's task": "Tâche de l'élève",
    "Grade cell": "Cellule notée",
    "Top": "Haut",
    "Hidden tests were run here; what they show stays with the teacher.":
        "Des tests cachés ont été exécutés ici ; leur détail reste chez l'enseignant.",
}


def translate(text: str) -> str:
    """The template's words, in French on a French server (LANG)."""
    lang = os.environ.get("LC_ALL") or os.environ.get("LC_MESSAGES") or os.environ.get("LANG") or ""
    return WORDS_FR.get(text, text) if lang.lower().startswith("fr") else text


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback exporter, with the jhub_feedback template and its filter."""

    def default_filters(self):
        yield from super().default_filters()
        yield "jha_t", translate


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
