"""The one-time credentials file: written once with mode 0600, then the passwords are forgotten."""
import csv
import io
import os
from typing import Callable, Iterable

COLUMNS = ("login", "password", "role", "classes", "first_name", "last_name")
#: A cell that a spreadsheet would read as a formula starts with one of these: such a cell is
#: written as text (a leading apostrophe), never run on the file that holds the passwords.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def credentials_csv(credentials: Iterable[dict], translate: Callable[[str], str] = str) -> str:
    """CSV text (';'-separated, as French spreadsheets expect) with a UTF-8 BOM for Excel. Its
    column names and roles go through ``translate`` (the admin's language); in French they are
    the ones a class list is read with (identifiant, mot de passe, profil, classes, prénom, nom)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow([translate(column) for column in COLUMNS])
    for c in sorted(credentials, key=lambda c: (",".join(c["classes"]), c["last_name"], c["login"])):
        writer.writerow([as_text(cell) for cell in (c["login"], c["password"], translate(c["role"]),
                                                    ",".join(c["classes"]), c["first_name"], c["last_name"])])
    return "\ufeff" + out.getvalue()


def write_credentials(path: str, credentials: Iterable[dict]) -> None:
    """Create path, a new file of mode 0600, and write the CSV. A file already there, or a link
    planted there (even a dangling one), is refused with FileExistsError: the passwords never go
    into a file that someone else prepared."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(credentials_csv(credentials))
