"""Login and password rules: validation, derivation from names, generation.

Pure functions: no I/O besides the OS random source.
"""
import re
import secrets
import unicodedata
from typing import Container, Optional

#: Linux (shadow's default NAME_REGEX, lower case only) and JupyterHub both accept these.
#: The first character is a letter, so an all-digit login or a leading "-" cannot pass.
LOGIN_RE = re.compile(r"^[a-z][a-z0-9._-]{0,31}$")
MAX_LOGIN = 32

#: Names no roster may claim, even on a machine where they do not exist (yet).
#: jhub-admin's local groups (groups.LOCAL_GROUPS) all start with this; no login may.
LOCAL_GROUP_PREFIX = "jh-"
RESERVED_LOGINS = frozenset(
    """root daemon bin sys sync games man lp mail news uucp proxy www-data backup
    list irc gnats nobody nogroup _apt systemd-network systemd-resolve systemd-timesync
    messagebus sshd syslog postfix ntp jupyterhub jupyter admin-service sidecar docker
    operator halt shutdown ftp sudo staff users adm wheel shadow utmp tty disk kmem
    dialout cdrom floppy audio video plugdev netdev""".split()
)

# Letters that Unicode decomposition does not fold to ASCII.
_SPECIAL_FOLDS = {
    "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O",
    "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D",
}

#: No look-alikes (0/O, 1/l/I) so that a printed slip is typed right the first time.
_PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyz" "ABCDEFGHJKLMNPQRSTUVWXYZ" "23456789"
_PASSWORD_GROUP = 4
_PASSWORD_GROUPS = 3


def fold_ascii(text: str) -> str:
    """'Léa Bérenger-Œuvray' -> 'Lea Berenger-OEuvray'."""
    text = "".join(_SPECIAL_FOLDS.get(ch, ch) for ch in text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).encode("ascii", "ignore").decode()


def slug(text: str, sep: str = "-") -> str:
    """Fold to lower-case ASCII words joined by sep: "D'ALMEIDA  Inès" -> 'd-almeida-ines'."""
    words = re.findall(r"[a-z0-9]+", fold_ascii(text).lower())
    return sep.join(words)


def class_slug(name: str) -> str:
    """A class name as a group-name part: 'T NSI' -> 't-nsi', '2nde 3' -> '2nde-3' (at most 23 chars)."""
    return slug(name)[:23].strip("-") or "class"


def login_problem(login: str) -> Optional[str]:
    """Why a login is unusable, or None when it is fine."""
    if not login:
        return "empty login"
    if len(login) > MAX_LOGIN:
        return f"login longer than {MAX_LOGIN} characters"
    if login.isdigit():
        return "a login cannot be only digits"
    if login.startswith("-"):
        return "a login cannot start with '-'"
    if any(ch.isspace() for ch in login):
        return "a login cannot contain spaces"
    if not LOGIN_RE.match(login):
        return "a login uses lower-case letters, digits, '.', '_' and '-', and starts with a letter"
    if login in RESERVED_LOGINS or login.startswith("systemd-"):
        return "reserved system name"
    if login.startswith(LOCAL_GROUP_PREFIX):
        return f"names starting with {LOCAL_GROUP_PREFIX!r} are jhub-admin's own groups"
    return None


def derive_login(first_name: str, last_name: str) -> str:
    """The base login for a person: 'first.last', folded to ASCII, at most 32 characters.

    Apostrophes vanish (D'Almeida -> dalmeida), spaces and hyphens inside a name become '-'.
    """
    def part(name):
        name = re.sub(r"['’`]", "", name)
        return slug(name, "-")

    first, last = part(first_name), part(last_name)
    base = ".".join(p for p in (first, last) if p) or "user"
    if not base[0].isalpha():
        base = "u" + base
    return base[:MAX_LOGIN].rstrip(".-_")


def unique_login(base: str, taken: Container[str]) -> str:
    """base, or base2, base3, ... : the first one not in taken (suffix kept within 32 chars)."""
    if base not in taken:
        return base
    n = 2
    while True:
        suffix = str(n)
        candidate = base[: MAX_LOGIN - len(suffix)].rstrip(".-_") + suffix
        if candidate not in taken:
            return candidate
        n += 1


def generate_password() -> str:
    """A random, readable password such as 'kP7m-Xr3a-9tQe' (12 random symbols, ~70 bits)."""
    groups = (
        "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(_PASSWORD_GROUP))
        for _ in range(_PASSWORD_GROUPS)
    )
    return "-".join(groups)


#: The shortest password that a user may choose on the password page; a class list's shorter
#: ones are flagged in the import's preview (weak_password), and still applied if the admin wants.
MIN_CHOSEN_LENGTH = 8


def weak_password(password: str) -> Optional[str]:
    """Why a password that a file gives is weak, or None."""
    if len(password) < MIN_CHOSEN_LENGTH:
        return (f"a password of {len(password)} character(s), shorter than the {MIN_CHOSEN_LENGTH} "
                "that the password page asks for")
    return None


def password_problem(password: str) -> Optional[str]:
    """Why a given password cannot be set, or None."""
    if any(ch in "\r\n\0" for ch in password):
        return "a password cannot contain a line break or a NUL character"
    if any(unicodedata.category(ch) == "Cc" for ch in password):
        return "a password cannot contain control characters"
    if len(password) > 256:
        return "password longer than 256 characters"
    return None
