"""What a course's folders in the nbgrader exchange must be, and what to do when they are not (pure).

The exchange root is 1777 and course ids are predictable (``cours_<login>``): a folder that does
not exist yet can be made by any student, who then owns what the teacher releases into and what
the other students submit to. jhub-admin therefore makes every course's folders itself, owned by
the teacher, with the modes nbgrader 0.9 gives them when it makes them (``release_assignment`` and
``release_feedback``, ``ensure_directory``, ``CourseDirectory.groupshared`` off):

* ``<course>`` and ``<course>/outbound``: 0755, the teacher writes, everybody reads;
* ``<course>/inbound``: 2733, everybody drops submissions, nobody but the teacher lists them;
* ``<course>/feedback``: 0711, everybody reads their own feedback file by its (secret) name.

``exchange.py`` reads the folders (lstat, never following a link) and acts; this module decides.
"""
import stat
from dataclasses import dataclass
from typing import Optional

#: (path inside the course folder, mode); the course folder itself first.
COURSE_FOLDERS = (("", 0o755), ("outbound", 0o755), ("inbound", 0o2733), ("feedback", 0o711))

#: What the next synchronisation does about each kind of problem. A folder that is not the
#: teacher's (or not a folder: a link, a file) is moved aside, never deleted nor changed in place:
#: chowning it would give the teacher whatever it holds or points to.
REPAIRS = {"missing": "create", "link": "move_aside", "not_folder": "move_aside", "owner": "move_aside",
           "mode": "chmod"}


@dataclass(frozen=True)
class Found:
    """What lstat says of a name: kind ("folder", "link" or "not_folder"), owner and mode."""
    kind: str
    uid: int
    mode: int
    owner: str = ""  # the owner's login when known, else the uid as text

    @classmethod
    def from_lstat(cls, st, owner: str = "") -> "Found":
        kind = "folder" if stat.S_ISDIR(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else "not_folder"
        return cls(kind, st.st_uid, stat.S_IMODE(st.st_mode), owner or str(st.st_uid))


def folder_label(course_id: str, sub: str) -> str:
    return f"{course_id}/{sub}" if sub else course_id


def problem_of(found: Optional[Found], teacher_uid: int, mode: int) -> Optional[dict]:
    """None when the folder is as it must be, else {"problem": kind, ...details}."""
    if found is None:
        return {"problem": "missing"}
    if found.kind != "folder":
        return {"problem": found.kind, "owner": found.owner}
    if found.uid != teacher_uid:
        return {"problem": "owner", "owner": found.owner}
    if found.mode != mode:
        return {"problem": "mode", "found": f"{found.mode:04o}", "expected": f"{mode:04o}"}
    return None


def course_problems(course_id: str, found_at: dict, teacher_uid: int) -> list:
    """The problems of a course's folders, given {sub: Found or None} for the names that were
    read. Under a course folder that will be moved aside or made, nothing else matters: the new
    one will be empty."""
    problems = []
    for sub, mode in COURSE_FOLDERS:
        problem = problem_of(found_at.get(sub), teacher_uid, mode)
        if problem:
            problems.append({"folder": folder_label(course_id, sub), **problem})
            if sub == "" and REPAIRS[problem["problem"]] != "chmod":
                break
    return problems


def describe_repair(course_id: str, sub: str, problem: dict, teacher: str, moved_to: str = "") -> str:
    """One line for the log and the report: the course, the folder, the owner found, what was done."""
    folder = folder_label(course_id, sub)
    kind = problem["problem"]
    if kind == "missing":
        return f"{course_id}: made {folder} in the exchange for {teacher}"
    if kind == "mode":
        return f"{course_id}: {folder} had mode {problem['found']}, set to {problem['expected']}"
    what = {"link": "was a link", "not_folder": "was not a folder", "owner": "was not the teacher's"}[kind]
    return (f"{course_id}: {folder} {what} (owner: {problem['owner']}); moved aside to {moved_to} "
            f"(root only) and made again for {teacher}")
