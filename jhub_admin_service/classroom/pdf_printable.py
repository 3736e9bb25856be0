"""What of a notebook's outputs can be printed without running the notebook's own scripts.

The PDF exporter (classroom/pdf.py) runs none of them: a script in an output (a collected
submission's, say) would run as the teacher who prints it. Outputs that need their scripts to
show anything (a folium map, a widget, a Plotly figure) would print as a blank space or as
`<folium.folium.Map at 0x7f…>`; they are given an image they carry if they have one, else a
note that says where to see them. Plots, formulas, tables, SVG drawings (the turtle's) print as
they are. Pure: a notebook in, a notebook out.
"""
import copy
import re

from nbformat import from_dict

#: Representations that show nothing without their scripts.
SCRIPTED_MIMETYPES = ("application/javascript", "application/vnd.jupyter.widget-view+json")
#: An HTML output with one of these needs its scripts (folium puts its map in an iframe's srcdoc).
SCRIPTED_HTML = re.compile(r"<\s*(script|iframe|object|embed)\b", re.IGNORECASE)
#: What may stand in for what was dropped: a still picture of it, or a formula.
STILL_MIMETYPES = ("image/png", "image/jpeg", "image/svg+xml", "text/latex", "application/pdf")

NOTE_FR = ("Cette sortie (carte, widget, graphique interactif…) a besoin de JavaScript pour "
           "s'afficher : elle n'est pas dans le PDF. Ouvrez le notebook dans Jupyter pour la voir.")
NOTE_HTML = f'<div class="jhub-pdf-note" lang="fr">{NOTE_FR}</div>'


def needs_scripts(mimetype: str, value) -> bool:
    if mimetype in SCRIPTED_MIMETYPES or mimetype.startswith("application/vnd."):
        return True
    if mimetype == "text/html":
        text = "".join(value) if isinstance(value, list) else str(value)
        return bool(SCRIPTED_HTML.search(text))
    return False


def printable_output(output: dict) -> dict:
    """The output, without the representations that need scripts; the note if nothing shows."""
    data = output.get("data")
    if not data:
        return output
    kept = {mime: value for mime, value in data.items() if not needs_scripts(mime, value)}
    if len(kept) == len(data):
        return output
    printed = dict(output)
    if any(mime in kept for mime in STILL_MIMETYPES) or "text/html" in kept:
        printed["data"] = kept
    else:
        # What is left is at best its repr ("<folium.folium.Map at 0x…>"): the note says more.
        printed["data"] = {"text/html": NOTE_HTML, "text/plain": NOTE_FR}
    printed["metadata"] = {}
    return printed


def printable_notebook(nb):
    """A copy of the notebook as the PDF prints it; the saved widget state goes (scripts only)."""
    nb = copy.deepcopy(nb)
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = [printable_output(out) for out in cell.get("outputs", [])]
    return from_dict(nb)  # nbconvert reads attributes (output.output_type)
