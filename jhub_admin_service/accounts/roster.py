"""Read a class list into a Roster: encoding, delimiter, format and header detection, validation.

Pure: bytes in, Roster out. Checks that need the machine's state (existing accounts) live in plan.py.

Formats:
- ``historical``: ``login;password;`` (student) or ``login;password;1`` (teacher), no header;
- ``header``: any file whose header names known columns, in French or English;
- ``siecle``: SIECLE "élèves par division" exports (NOM, PRENOM, DIV., no login or password);
- ``ent``: ENT account exports (Type, Nom, Prénom, Identifiant, Classes).
"""
import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Optional

from .logins import fold_ascii, login_problem, password_problem

MAX_ROWS = 40_000
ROLES = ("student", "teacher", "admin")

ROLE_ALIASES = {
    "student": "student", "eleve": "student", "etudiant": "student", "e": "student", "0": "student", "": "student",
    "teacher": "teacher", "enseignant": "teacher", "prof": "teacher", "professeur": "teacher", "1": "teacher",
    "admin": "admin", "administrateur": "admin", "administrator": "admin",
}
ACCEPTED_ROLES_TEXT = ("élève/eleve/student, enseignant/prof/teacher, admin, enseignant+admin (or 1 for teacher "
                       "in the historical format)")
#: What joins two roles in one cell: "enseignant+admin", "prof, admin", "teacher / admin", "prof et admin".
ROLE_JOINERS = r"\s*(?:[+,/&]|\bet\b|\band\b)\s*"
#: The cells of an "admin" column, normalised, that say yes and no.
YES = {"1", "oui", "o", "yes", "y", "x", "vrai", "true"}
NO = {"0", "non", "n", "no", "faux", "false"}

#: Normalised header text -> field. Normalised = ASCII-folded, lower case, letters and digits only.
COLUMN_ALIASES = {
    "login": "login", "identifiant": "login", "username": "login", "user": "login", "utilisateur": "login",
    "nomdutilisateur": "login", "uid": "login",
    "password": "password", "motdepasse": "password", "mdp": "password", "passwd": "password", "pass": "password",
    "role": "role", "profil": "role", "type": "role", "categorie": "role", "statut": "role", "fonction": "role",
    "class": "classes", "classe": "classes", "classes": "classes", "division": "classes", "div": "classes",
    "firstname": "first_name", "prenom": "first_name", "givenname": "first_name",
    "lastname": "last_name", "nom": "last_name", "surname": "last_name", "familyname": "last_name",
    "nomdefamille": "last_name",
    # One column with the whole name, last name first (Pronote-like exports): "LEFÈVRE Mathéo".
    "eleve": "full_name", "nomprenom": "full_name", "nometprenom": "full_name", "nomprenoms": "full_name",
    "nometprenoms": "full_name", "nomcomplet": "full_name", "identite": "full_name", "fullname": "full_name",
    "email": "email", "mail": "email", "courriel": "email", "adressemail": "email", "emailaddress": "email",
    "nele": "birth_date", "neele": "birth_date", "datedenaissance": "birth_date", "birthdate": "birth_date",
    "dateofbirth": "birth_date",
    # The person's stable identifier in the school's systems, which a corrected name keeps: the
    # ENT export's Id, SIECLE's national number (INE) or internal one (ELENOET).
    "ine": "external_id", "nine": "external_id", "numeroine": "external_id",
    "nnational": "external_id", "numeronational": "external_id", "identifiantnational": "external_id",
    "idnational": "external_id", "elenoet": "external_id", "idsiecle": "external_id",
    "identifiantent": "external_id", "idexterne": "external_id", "externalid": "external_id",
    # A teacher who is also an admin: oui/non (the role cell may say it too: "enseignant+admin").
    "admin": "admin", "administrateur": "admin", "droitsadmin": "admin", "droitsadministrateur": "admin",
}
#: Columns that are the person's identifier only in an ENT export (login, role and names beside):
#: its "Id" is what the ENT's login gives (ent/); elsewhere an "ID" is a sheet's row number.
ENT_EXPORT_ALIASES = {"id": "external_id"}
DELIMITERS = (";", ",", "\t")
#: The longest name, e-mail and class a line may give; at most this many classes a line.
MAX_NAME = 100
MAX_CLASS = 40
MAX_CLASSES = 20
DELIMITER_NAMES = {";": "semicolon", ",": "comma", "\t": "tab"}


class RosterError(ValueError):
    """The file as a whole is not a class list. Nothing from it may be applied."""


@dataclass
class RosterEntry:
    line: int
    login: str  # "" when it must be derived from the names
    password: str  # "" when it must be generated
    role: str
    classes: list
    #: A teacher with admin rights beside; None when the line does not say (an update keeps the flag).
    admin: Optional[bool] = None
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    birth_date: str = ""
    #: The stable identifier that the list carries (ENT Id, INE), "" when it has none.
    external_id: str = ""
    #: Where the line is, for the admin, when several files make one list ("eleves.csv:12").
    where: str = ""

    @property
    def identity_key(self) -> str:
        """Who this person is when the file has no login: names plus birth date (or class)."""
        tail = self.birth_date or ",".join(self.classes)
        return "|".join(fold_ascii(x).lower().strip() for x in (self.last_name, self.first_name, tail))


@dataclass
class Rejection:
    line: int
    login: str
    reason: str
    where: str = ""

    def to_json(self) -> dict:
        return {"line": self.line, "where": place(self), "login": self.login, "reason": self.reason}


def place(item) -> str:
    """Where an entry or a rejection is: its file and line when several files make the list."""
    return item.where or str(item.line)


@dataclass
class Roster:
    format: str
    encoding: str
    delimiter: str
    entries: list = field(default_factory=list)
    rejected: list = field(default_factory=list)


def normalise_header(cell: str) -> str:
    return re.sub(r"[^a-z0-9]", "", fold_ascii(cell).lower())


def decode(data: bytes) -> tuple:
    """Bytes -> (text, encoding name). Raises RosterError for binary or empty input."""
    if not data or not data.strip():
        raise RosterError("The file is empty.")
    if data.startswith(b"\xef\xbb\xbf"):
        text, encoding = data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text, encoding = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise RosterError("The file starts like UTF-16 text but cannot be read as such.")
    else:
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            if b"\0" in data:
                raise RosterError("This file is not a class list: it contains binary data.")
            try:
                text, encoding = data.decode("cp1252"), "windows-1252"
            except UnicodeDecodeError:
                text, encoding = data.decode("latin-1"), "iso-8859-1"
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n")
    if "\0" in text or controls > max(2, len(text) // 200):
        raise RosterError("This file is not a class list: it contains binary data.")
    return text, encoding


def detect_delimiter(text: str) -> Optional[str]:
    """The delimiter that splits the first rows most consistently (quoted fields respected).

    None when no candidate appears on every row: a one-column file, or not a class list.
    """
    best, best_score = None, 0
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        counts = []
        for row in reader:
            if any(cell.strip() for cell in row):
                counts.append(len(row) - 1)
            if len(counts) == 50:
                break
        if not counts or min(counts) == 0:
            continue
        # Prefer delimiters present on every row, then the most columns.
        score = min(counts) * 1000 + sum(counts) / len(counts)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def read_roster(data: bytes, max_rows: int = MAX_ROWS) -> Roster:
    """Read bytes into a Roster, or raise RosterError for a file that is not a class list."""
    text, encoding = decode(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    delimiter = detect_delimiter(text)
    numbered = numbered_rows(text, delimiter or ";")
    if numbered and not header_columns(numbered[0][1]) and names_columns(numbered[0][1]):
        # A header, but no column that gives a login or a name: its own line is no account.
        raise RosterError(
            "The header names the columns " + ", ".join(repr(c) for c in numbered[0][1][:8] if c)
            + ", but none gives a login or a name (identifiant, nom and prénom, or one column such as "
            "'Nom Prénom' or 'Élève'): nothing can be imported from this file.")
    if delimiter is None and not one_column_list(numbered):
        raise RosterError(
            "No column separator found: a class list has one line per account with columns "
            "separated by ';', ',' or a tab."
        )
    delimiter = delimiter or ";"
    if len(numbered) > max_rows + 1:
        raise RosterError(f"The file has {len(numbered)} lines; at most {max_rows} accounts can be imported at once.")
    if not numbered:
        raise RosterError("The file is empty.")
    columns = header_columns(numbered[0][1])
    if columns:
        fmt = header_format(columns)
        body, parse = numbered[1:], lambda n, row: entry_from_header(n, row, columns)
    elif max(len(row) for _, row in numbered[:50]) <= 4:
        fmt, body, parse = "historical", numbered, entry_from_historical
    else:
        raise RosterError(
            "Unrecognised columns: "
            + ", ".join(repr(c) for c in numbered[0][1][:8])
            + ". Expected a header naming at least a login or the first and last names "
            "(identifiant, nom, prénom, classe, profil, mot de passe), or the historical login;password;1 format."
        )
    roster = Roster(format=fmt, encoding=encoding, delimiter=DELIMITER_NAMES[delimiter])
    for n, row in body:
        try:
            roster.entries.append(parse(n, row))
        except LineRejected as exc:
            roster.rejected.append(Rejection(n, exc.login, exc.reason))
    reject_duplicates(roster)
    return roster


class LineRejected(Exception):
    def __init__(self, login: str, reason: str):
        super().__init__(reason)
        self.login, self.reason = login, reason


def one_column_list(numbered: list) -> bool:
    """A plain list of logins (with or without a 'login' header): most lines are valid logins."""
    cells = [row[0] for _, row in numbered if len(row) == 1]
    if len(cells) != len(numbered):
        return False
    if header_columns(cells[:1]):
        cells = cells[1:]
    valid = sum(login_problem(c.lower()) is None for c in cells)
    return bool(cells) and valid >= 0.8 * len(cells)


def numbered_rows(text: str, delimiter: str) -> list:
    """[(physical line where the record starts, stripped cells)] for every non-blank record."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    numbered, previous_end = [], 0
    for row in reader:
        if any(cell.strip() for cell in row):
            numbered.append((previous_end + 1, [cell.strip() for cell in row]))
        previous_end = reader.line_num
    return numbered


def header_columns(cells: list) -> Optional[dict]:
    """{field: index} when the first row is a header naming a login or both names; else None."""
    columns = {}
    for index, cell in enumerate(cells):
        name = COLUMN_ALIASES.get(normalise_header(cell))
        if name and name not in columns:
            columns[name] = index
    if {"login", "role", "first_name", "last_name"} <= columns.keys():
        for index, cell in enumerate(cells):
            name = ENT_EXPORT_ALIASES.get(normalise_header(cell))
            if name and name not in columns:
                columns[name] = index
    if "login" in columns or {"first_name", "last_name"} <= columns.keys() or "full_name" in columns:
        return columns
    return None


def names_columns(cells: list) -> bool:
    """Whether a first line is a header (at least half of its cells name a class list's columns:
    "Classe;Date", "E-mail"), rather than a historical line that starts with a login such as
    "admin" ("admin;S3cret-pass;1")."""
    filled = [cell for cell in cells if cell]
    named = [cell for cell in filled if normalise_header(cell) in COLUMN_ALIASES]
    return bool(named) and 2 * len(named) >= len(filled)


def header_format(columns: dict) -> str:
    if "login" not in columns and "birth_date" in columns and "classes" in columns:
        return "siecle"
    if {"login", "role", "first_name", "last_name"} <= columns.keys():
        return "ent"
    return "header"


def parse_role(value: str, login: str, admin_cell: Optional[str] = None) -> tuple:
    """(role, admin) from a role cell ("prof", "enseignant+admin") and an admin column's cell, if the
    file has one. admin is None when the line does not say; only a teacher can be one besides."""
    parts = {ROLE_ALIASES.get(normalise_header(part)) for part in re.split(ROLE_JOINERS, value.strip(), flags=re.I)}
    if None in parts or len(parts) > 2 or (len(parts) == 2 and parts != {"teacher", "admin"}):
        raise LineRejected(login, f"unknown role {value!r}; accepted roles: {ACCEPTED_ROLES_TEXT}")
    both = len(parts) == 2
    role = "teacher" if both else parts.pop()
    admin = True if both else None
    said = normalise_header(admin_cell or "")
    if said:  # an empty cell says nothing: the rights stay as they are
        if said not in YES | NO:
            raise LineRejected(login, f"admin column: {admin_cell!r} is neither oui nor non")
        if admin and said in NO:
            raise LineRejected(login, f"the role {value!r} and the admin column ({admin_cell!r}) disagree")
        admin = said in YES
    if admin and role == "student":
        raise LineRejected(login, "a student cannot be an admin; only a teacher can have admin rights beside")
    return role, (admin if role == "teacher" else None)


def parse_classes(value: str, login: str = "") -> list:
    """'T NSI' -> ['T NSI']; 'TG1, TG2' or 'TG1|TG2' -> ['TG1', 'TG2'], each once."""
    classes = list(dict.fromkeys(c.strip() for c in re.split(r"[,|/]", value) if c.strip()))
    if len(classes) > MAX_CLASSES or any(len(c) > MAX_CLASS for c in classes):
        raise LineRejected(login, f"at most {MAX_CLASSES} classes of at most {MAX_CLASS} characters each")
    return classes


def split_full_name(value: str) -> tuple:
    """'LEFÈVRE Mathéo' -> ('Mathéo', 'LEFÈVRE'); 'DA SILVA Léna' -> ('Léna', 'DA SILVA'). The last
    name is the words in capitals at the start; with none in capitals, the first word."""
    words = value.split()
    capitals = 0
    while capitals < len(words) - 1 and words[capitals].isupper():
        capitals += 1
    capitals = capitals or min(1, len(words) - 1)
    return " ".join(words[capitals:]), " ".join(words[:capitals])


def checked_text(value: str, what: str, login: str, limit: int = MAX_NAME) -> str:
    """A name, e-mail or class as a person would type it: no control or invisible formatting
    character (an ESC would reach the admin's terminal, a right-to-left mark would disguise a
    name), and not longer than limit."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs"):
            raise LineRejected(login, f"{what} holds a control or invisible character (U+{ord(ch):04X})")
    if len(value) > limit:
        raise LineRejected(login, f"{what} longer than {limit} characters")
    return value


def checked_login(raw: str) -> str:
    """A login as written in the file; an upper-case one is lowered here and judged in reject_duplicates."""
    login = raw.strip()
    problem = login_problem(login.lower())
    if problem:
        raise LineRejected(login, problem)
    return login


def checked_password(password: str, login: str) -> str:
    problem = password_problem(password)
    if problem:
        raise LineRejected(login, problem)
    return password


def entry_from_historical(n: int, row: list) -> RosterEntry:
    row = row + [""] * (3 - len(row))
    login = checked_login(row[0])
    role, admin = parse_role(row[2], login)
    return RosterEntry(line=n, login=login, password=checked_password(row[1], login), role=role, admin=admin,
                       classes=[])


def entry_from_header(n: int, row: list, columns: dict) -> RosterEntry:
    def get(name):
        index = columns.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    first, last = get("first_name"), get("last_name")
    if not (first or last) and get("full_name"):
        first, last = split_full_name(get("full_name"))
    login = checked_login(get("login")) if "login" in columns else ""
    for value, what in ((first, "first name"), (last, "last name"), (get("email"), "e-mail"),
                        (get("classes"), "class"), (get("external_id"), "identifier")):
        checked_text(value, what, login, limit=MAX_NAME if what != "class" else MAX_CLASS * MAX_CLASSES)
    if not login and not (first or last):
        raise LineRejected("", "no login and no name to derive one from")
    role, admin = parse_role(get("role"), login, get("admin") if "admin" in columns else None)
    return RosterEntry(
        line=n, login=login, password=checked_password(get("password"), login),
        role=role, admin=admin, classes=parse_classes(get("classes"), login),
        first_name=first, last_name=last, email=get("email"), birth_date=get("birth_date"),
        external_id=get("external_id"),
    )


def reject_duplicates(roster: Roster) -> None:
    """JupyterHub lowercases names, so logins equal after lowercasing are one account.

    Two lines with the very same login: both rejected, neither applied. A line that differs
    from a valid lower-case line only by case: that line alone is rejected. A lone upper-case
    login is lowered.
    """
    by_key = {}
    for entry in roster.entries:
        if entry.login:
            by_key.setdefault(entry.login.lower(), []).append(entry)
    dropped = set()
    for key, group in by_key.items():
        exact = [e for e in group if e.login == key]
        if len(group) == 1:
            group[0].login = key
            continue
        if len(exact) == 1:
            for e in group:
                if e is not exact[0]:
                    dropped.add(id(e))
                    roster.rejected.append(Rejection(e.line, e.login, (
                        f"differs only by case from line {place(exact[0])} ({key}); "
                        "JupyterHub would treat them as the same account"), e.where))
            continue
        lines = ", ".join(place(e) for e in group)
        for e in group:
            dropped.add(id(e))
            roster.rejected.append(Rejection(e.line, e.login, f"duplicate login {key!r} on lines {lines}", e.where))
    roster.entries = [e for e in roster.entries if id(e) not in dropped]
    roster.rejected.sort(key=lambda r: r.line)


#: Lines of the n-th file of several are numbered from n * FILE_LINES, so that the whole list
#: keeps each file's order and no two lines share a number.
FILE_LINES = 1_000_000


def read_rosters(files: list, max_rows: int = MAX_ROWS) -> Roster:
    """Several class lists ([(file name, bytes)]: the pupils' SIECLE export, the teachers' ENT
    export...) read as one: each file in its own format, every line told by its file and line,
    a login on two files rejected on both as on one file. One file is read as read_roster does."""
    if len(files) == 1:
        return read_roster(files[0][1], max_rows)
    rosters = []
    for name, data in files:
        try:
            rosters.append((name, read_roster(data, max_rows)))
        except RosterError as exc:
            raise RosterError(f"{name}: {exc}") from None
    merged = Roster(format=" + ".join(r.format for _, r in rosters),
                    encoding=" + ".join(dict.fromkeys(r.encoding for _, r in rosters)),
                    delimiter=" + ".join(dict.fromkeys(r.delimiter for _, r in rosters)))
    for n, (name, roster) in enumerate(rosters):
        for item in roster.entries + roster.rejected:
            item.where = f"{name}:{item.line}"
            item.line += n * FILE_LINES
        merged.entries += roster.entries
        merged.rejected += roster.rejected
    if len(merged.entries) > max_rows:
        raise RosterError(f"The files hold {len(merged.entries)} lines; at most {max_rows} accounts can be "
                          "imported at once.")
    reject_duplicates(merged)
    return merged

