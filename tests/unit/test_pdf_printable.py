"""What the PDF prints of outputs that need their scripts (classroom/pdf_printable.py)."""
import nbformat
import pytest

from jhub_admin_service.classroom.pdf_printable import NOTE_FR, printable_notebook

FOLIUM = ('<div style="width:100%;"><span>Make this Notebook Trusted to load map</span>'
          '<iframe srcdoc="&lt;script src=&quot;leaflet.js&quot;&gt;&lt;/script&gt;"></iframe></div>')


def printed(*datas):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data=d) for d in datas]
    nb.cells = [cell]
    return [dict(out.get("data", {})) for out in printable_notebook(nb).cells[0].outputs]


def test_a_map_or_a_widget_is_replaced_by_the_note_not_by_its_repr():
    for data in ({"text/html": FOLIUM, "text/plain": "<folium.folium.Map at 0x7f>"},
                 {"application/vnd.jupyter.widget-view+json": {"model_id": "1"}, "text/plain": "IntSlider(value=3)"},
                 {"application/javascript": "alert(1)"},
                 {"text/html": "<SCRIPT >x()</SCRIPT>", "text/plain": "x"}):
        (out,) = printed(data)
        assert out["text/plain"] == NOTE_FR and "lang=\"fr\"" in out["text/html"], data


def test_a_still_picture_of_an_interactive_figure_is_kept_instead_of_the_note():
    (out,) = printed({"text/html": "<div id=p></div><script>Plotly.newPlot()</script>",
                      "application/vnd.plotly.v1+json": {"data": []}, "image/png": "iVBORw0KGgo="})
    assert out == {"image/png": "iVBORw0KGgo="}


@pytest.mark.parametrize("data", [
    {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure size 640x480>"},
    {"text/html": "<table><tr><td>1</td></tr></table>", "text/plain": "   a\n0  1"},
    {"text/html": '<svg width="400"><line x1="0" y1="0" x2="100" y2="0" stroke="red"/></svg>', "text/plain": "t"},
    {"text/latex": "$x^2$", "text/plain": "x**2"},
])
def test_plots_tables_drawings_and_formulas_print_as_they_are(data):
    assert printed(data) == [data]


def test_the_saved_widget_state_is_left_out_and_the_notebook_itself_is_untouched():
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {}}})
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"application/javascript": "x"})]
    nb.cells = [cell]
    out = printable_notebook(nb)
    assert "widgets" not in out.metadata and out.cells[0].outputs[0].output_type == "display_data"
    assert "widgets" in nb.metadata and nb.cells[0].outputs[0].data == {"application/javascript": "x"}
