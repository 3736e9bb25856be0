"""The course tables, kept in the account registry's SQLite file."""
import json
import sqlite3
import time
from typing import Iterable, Optional

from ..accounts.registry import Registry
from .rules import Course

SCHEMA = """
CREATE TABLE IF NOT EXISTS courses (
    course_id TEXT PRIMARY KEY,
    teacher TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    auto INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS course_classes (
    course_id TEXT NOT NULL REFERENCES courses (course_id) ON DELETE CASCADE,
    class TEXT NOT NULL,
    PRIMARY KEY (course_id, class)
);
-- enrolled = 1: enrolled one by one; enrolled = 0: unenrolled from an enrolled class.
CREATE TABLE IF NOT EXISTS course_students (
    course_id TEXT NOT NULL REFERENCES courses (course_id) ON DELETE CASCADE,
    login TEXT NOT NULL,
    enrolled INTEGER NOT NULL,
    PRIMARY KEY (course_id, login)
);
-- What the last successful batch wrote in each teacher's home (JSON), to skip unchanged teachers.
CREATE TABLE IF NOT EXISTS course_sync (
    teacher TEXT PRIMARY KEY,
    spec TEXT NOT NULL
);
"""


class CourseStore:
    """The course tables, in the account registry's SQLite file."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self._ready = False

    def _db(self):
        db = self.registry.db
        if not self._ready:
            if self.registry.readonly:
                exists = db.execute("SELECT name FROM sqlite_master WHERE name = 'courses'").fetchone()
                if not exists:
                    try:
                        db.executescript(SCHEMA)
                    except Exception:  # a read-only file without course tables: no courses
                        return None
            else:
                db.executescript(SCHEMA)
            self._ready = True
        return db

    def courses(self) -> list:
        db = self._db()
        if db is None:
            return []
        classes, students = {}, {}
        for row in db.execute("SELECT course_id, class FROM course_classes ORDER BY class"):
            classes.setdefault(row[0], []).append(row[1])
        for row in db.execute("SELECT course_id, login, enrolled FROM course_students ORDER BY login"):
            students.setdefault(row[0], ([], []))[0 if row[2] else 1].append(row[1])
        out = []
        for row in db.execute("SELECT * FROM courses ORDER BY teacher, course_id"):
            inc, exc = students.get(row["course_id"], ([], []))
            out.append(Course(row["course_id"], row["teacher"], bool(row["is_default"]), bool(row["auto"]),
                              classes.get(row["course_id"], []), inc, exc, row["created_at"]))
        return out

    def get(self, course_id: str) -> Optional[Course]:
        return next((c for c in self.courses() if c.course_id == course_id), None)

    def insert(self, db: sqlite3.Connection, course_id: str, teacher: str, is_default: bool = False,
               auto: bool = False) -> None:
        self._db()
        db.execute("INSERT INTO courses (course_id, teacher, is_default, auto, created_at) VALUES (?, ?, ?, ?, ?)",
                   (course_id, teacher, int(is_default), int(auto), time.time()))

    def last_specs(self) -> dict:
        db = self._db()
        if db is None:
            return {}
        return {row[0]: json.loads(row[1]) for row in db.execute("SELECT teacher, spec FROM course_sync")}

    def save_spec(self, db: sqlite3.Connection, teacher: str, spec: dict) -> None:
        db.execute("INSERT OR REPLACE INTO course_sync (teacher, spec) VALUES (?, ?)",
                   (teacher, json.dumps(spec, sort_keys=True)))

    def delete(self, db: sqlite3.Connection, course_id: str) -> None:
        for table in ("course_classes", "course_students", "courses"):
            db.execute(f"DELETE FROM {table} WHERE course_id = ?", (course_id,))

    def set_default(self, db: sqlite3.Connection, teacher: str, course_id: str) -> None:
        db.execute("UPDATE courses SET is_default = (course_id = ?) WHERE teacher = ?", (course_id, teacher))

    def set_enrolment(self, db: sqlite3.Connection, course_id: str, classes: Iterable[str], students: Iterable[str],
                      excluded: Iterable[str]) -> None:
        db.execute("DELETE FROM course_classes WHERE course_id = ?", (course_id,))
        db.execute("DELETE FROM course_students WHERE course_id = ?", (course_id,))
        db.executemany("INSERT INTO course_classes (course_id, class) VALUES (?, ?)",
                       [(course_id, c) for c in classes])
        db.executemany("INSERT INTO course_students (course_id, login, enrolled) VALUES (?, ?, 1)",
                       [(course_id, s) for s in students])
        db.executemany("INSERT INTO course_students (course_id, login, enrolled) VALUES (?, ?, 0)",
                       [(course_id, s) for s in excluded])
