"""The one-time credentials file: written once with mode 0600, then the passwords are forgotten."""
import csv
import io
import os
from typing import Iterable

COLUMNS = ("login", "password", "role", "classes", "first_name", "last_name")


def credentials_csv(credentials: Iterable[dict]) -> str:
    """CSV text (';'-separated, as French spreadsheets expect) with a UTF-8 BOM for Excel."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for c in sorted(credentials, key=lambda c: (",".join(c["classes"]), c["last_name"], c["login"])):
        writer.writerow([c["login"], c["password"], c["role"], ",".join(c["classes"]),
                         c["first_name"], c["last_name"]])
    return "\ufeff" + out.getvalue()


def write_credentials(path: str, credentials: Iterable[dict]) -> None:
    """Create path with mode 0600 (never widening an existing file's mode) and write the CSV."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(credentials_csv(credentials))
