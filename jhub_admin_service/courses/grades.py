"""A course's grades as a French teacher hands them on (Pronote's grid): pure, from data read.

``grades_sheet`` turns what gradebook_reader read, and the registry's students, into rows: one per
student in class order (class, last name, first name), one group of columns per assignment: the
score out of 20, the raw score and the maximum. A missing submission says so ("non rendu"),
never 0; one that still waits for a manual grade says so too ("à corriger"), its raw score beside.
``question_sheet`` gives one assignment question by question. ``to_csv`` (UTF-8 with BOM, ``;``,
decimal comma: what a French Excel opens as it is) and ``to_xlsx`` (numbers as numbers) write them.
"""
import csv
import io
from dataclasses import dataclass, field
from typing import Iterable, List, Optional

WORDS = {
    "fr": {"last": "Nom", "first": "Prénom", "class": "Classe", "out_of_20": "/20", "points": "points",
           "max": "max", "missing": "non rendu", "to_grade": "à corriger", "total": "Total"},
    "en": {"last": "Last name", "first": "First name", "class": "Class", "out_of_20": "/20", "points": "points",
           "max": "max", "missing": "not submitted", "to_grade": "to be graded", "total": "Total"},
}


@dataclass
class Sheet:
    title: str
    header: List[str]
    rows: List[list] = field(default_factory=list)


@dataclass
class Student:
    login: str
    last_name: str
    first_name: str
    classes: str


def words(lang: str) -> dict:
    return WORDS["fr" if (lang or "").lower().startswith("fr") else "en"]


def out_of_20(score: float, max_score: float) -> Optional[float]:
    return round(score * 20 / max_score, 2) if max_score else None


def students_of(data: dict, enrolled: Iterable[Student]) -> List[Student]:
    """The enrolled students, and those the gradebook keeps with a submission (who left the course),
    in class order."""
    rows = {s.login: s for s in enrolled}
    for login in data["submissions"]:
        if login not in rows:
            names = data["students"].get(login, {})
            rows[login] = Student(login, names.get("last_name", ""), names.get("first_name", ""), "")
    # Class order; those who left the course (no class here) last.
    return sorted(rows.values(), key=lambda s: (not s.classes, s.classes.casefold(), s.last_name.casefold(),
                                                s.first_name.casefold(), s.login))


def grades_sheet(course_id: str, data: dict, enrolled: Iterable[Student], lang: str = "fr") -> Sheet:
    w = words(lang)
    header = [w["last"], w["first"], w["class"]]
    for a in data["assignments"]:
        header += [f"{a['name']} {w['out_of_20']}", f"{a['name']} {w['points']}", f"{a['name']} {w['max']}"]
    sheet = Sheet(course_id, header)
    for student in students_of(data, enrolled):
        row = [student.last_name, student.first_name, student.classes]
        for a in data["assignments"]:
            sub = data["submissions"].get(student.login, {}).get(a["name"])
            if sub is None:
                row += [w["missing"], None, a["max_score"]]
            elif sub["needs_manual_grade"]:
                row += [w["to_grade"], sub["score"], sub["max_score"]]
            else:
                row += [out_of_20(sub["score"], sub["max_score"]), sub["score"], sub["max_score"]]
        sheet.rows.append(row)
    return sheet


def question_sheet(course_id: str, assignment: str, data: dict, enrolled: Iterable[Student],
                   lang: str = "fr") -> Sheet:
    """One assignment, a column per question (notebook: question /max), then the total and /20."""
    w = words(lang)
    questions = data["questions"]
    header = [w["last"], w["first"], w["class"]]
    header += [f"{q['notebook']}: {q['cell']} (/{number_text(q['max_score'])})" for q in questions]
    header += [w["total"], w["out_of_20"]]
    sheet = Sheet(f"{course_id} {assignment}", header)
    for student in students_of(data, enrolled):
        row = [student.last_name, student.first_name, student.classes]
        sub = data["submissions"].get(student.login, {}).get(assignment)
        if sub is None:
            row += [None] * len(questions) + [w["missing"], w["missing"]]
        else:
            scores = data["question_scores"].get(student.login, {})
            row += [scores.get(f"{q['notebook']}/{q['cell']}") for q in questions]
            row += [sub["score"], w["to_grade"] if sub["needs_manual_grade"] else out_of_20(sub["score"],
                                                                                              sub["max_score"])]
        sheet.rows.append(row)
    return sheet


def number_text(value) -> str:
    """A number as a French teacher writes it: a decimal comma, no useless zero (15,5 ; 12)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


def safe_text(value: str) -> str:
    """A cell that a spreadsheet would take for a formula is kept as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(sheet: Sheet) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([safe_text(h) for h in sheet.header])
    for row in sheet.rows:
        writer.writerow([safe_text(v) if isinstance(v, str) else number_text(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(sheet: Sheet) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    page = book.active
    page.title = "".join(ch for ch in sheet.title if ch not in "[]:*?/\\")[:31] or "notes"
    page.append(sheet.header)
    for cell in page[1]:
        cell.font = Font(bold=True)
    for row in sheet.rows:
        # Text stays text (data_type "s"): a name that starts with "=" is never a formula.
        page.append(row)
        for cell in page[page.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    page.freeze_panes = "D2"
    for column in page.columns:
        width = max(len(str(c.value)) if c.value is not None else 0 for c in column)
        page.column_dimensions[column[0].column_letter].width = min(max(width + 2, 8), 40)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
