"""The grades sheet (courses/grades.py): what a French teacher pastes into Pronote."""
import csv
import io

from openpyxl import load_workbook

from jhub_admin_service.courses.grades import (Student, grades_sheet, number_text, question_sheet, to_csv,
                                               to_xlsx)

DATA = {
    "assignments": [{"name": "tp1", "max_score": 4, "duedate": None}, {"name": "tp2", "max_score": 3, "duedate": None}],
    "students": {"a": {"first_name": "Ana", "last_name": "Zed"}, "gone": {"first_name": "Guy", "last_name": "Ost (a quitté le cours)"}},
    "submissions": {"a": {"tp1": {"score": 3, "max_score": 4, "needs_manual_grade": False}},
                    "gone": {"tp2": {"score": 1, "max_score": 3, "needs_manual_grade": False}}},
    "questions": [{"notebook": "tp1", "cell": "q1", "max_score": 4}],
    "question_scores": {"a": {"tp1/q1": 3}},
}
ENROLLED = [Student("a", "Zed", "Ana", "T1"), Student("b", "=HYPERLINK(\"x\")", "Bob", "T1"),
            Student("c", "Abel", "Cal", "T2")]


def test_numbers_are_written_with_a_decimal_comma_and_no_useless_zero():
    assert [number_text(v) for v in (15.5, 12.0, 16.666, 0, None)] == ["15,5", "12", "16,67", "0", ""]


def test_rows_follow_the_class_then_the_name_and_a_missing_submission_is_never_zero():
    sheet = grades_sheet("c1", DATA, ENROLLED, "fr")
    assert [r[:3] for r in sheet.rows] == [["=HYPERLINK(\"x\")", "Bob", "T1"], ["Zed", "Ana", "T1"],
                                           ["Abel", "Cal", "T2"], ["Ost (a quitté le cours)", "Guy", ""]]
    assert sheet.rows[1][3:] == [15.0, 3, 4, "non rendu", None, 3]
    assert sheet.rows[3][3:] == ["non rendu", None, 4, 6.67, 1, 3]  # left the course: kept, last
    assert grades_sheet("c1", DATA, ENROLLED, "en").header[:3] == ["Last name", "First name", "Class"]


def test_a_name_that_looks_like_a_formula_stays_text_in_both_files():
    sheet = grades_sheet("c1", DATA, ENROLLED, "fr")
    lines = list(csv.reader(io.StringIO(to_csv(sheet).decode("utf-8-sig")), delimiter=";"))
    assert lines[1][0] == "'=HYPERLINK(\"x\")"
    cell = load_workbook(io.BytesIO(to_xlsx(sheet))).active["A2"]
    assert cell.value == "=HYPERLINK(\"x\")" and cell.data_type == "s"


def test_one_assignment_question_by_question():
    sheet = question_sheet("c1", "tp1", DATA, ENROLLED, "fr")
    assert sheet.header[3:] == ["tp1: q1 (/4)", "Total", "/20"]
    assert sheet.rows[1][3:] == [3, 3, 15.0]
    assert sheet.rows[0][3:] == [None, "non rendu", "non rendu"]
