"""A class's submissions autograded by the Formgrader's "autograde every submission".

On a throw-away stack of the built images (docker/build.sh): a teacher and N students (35 by
default) imported; the teacher's server started as the product starts it (preloaded); an
assignment written and released through the Formgrader's routes; N collected submissions put in
the course's ``submitted/`` folder as the teacher (half of them right), and one more; then, in the same run:

1. the baseline: one submission autograded alone, through the Formgrader's own button's route
   (``POST formgrader/api/submission/<a>/<student>/autograde``);
2. the N others autograded by jhub-admin's action (``POST jhub-admin/grading/assignments/<a>/autograde``,
   then its progress until it ends).

It prints both times, the ratio of the whole class to one submission and the time per
submission, and checks every score. Target (issue 19): 35 submissions in at most 60 s on 2 cores.

    python3 bench/autograde_class.py [--students 35] [--keep]
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from e2e_stack import HubUser, Stack  # noqa: E402

ASSIGNMENT = "bench"
#: Run as the teacher in the course's folder: N collected submissions of the released notebook,
#: the even-numbered ones right, as nbgrader's collect leaves them (notebook + timestamp.txt).
PLANT = r"""
import json, os, sys
import nbformat
assignment, students = sys.argv[1], sys.argv[2:]
released = nbformat.read(f"release/{assignment}/{assignment}.ipynb", as_version=4)
for i, student in enumerate(students):
    nb = nbformat.from_dict(json.loads(json.dumps(released)))
    for cell in nb.cells:
        if "def carre" in cell.source:
            cell.source = "def carre(x):\n    return x * x" if i % 2 == 0 else "def carre(x):\n    return 2 * x"
    folder = f"submitted/{student}/{assignment}"
    os.makedirs(folder, exist_ok=True)
    nbformat.write(nb, f"{folder}/{assignment}.ipynb")
    with open(f"{folder}/timestamp.txt", "w") as f:
        f.write("2026-12-06 10:00:00.000000 UTC")
"""


def notebook() -> dict:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (lycée)", "language": "python"}
    meta = {"schema_version": 3}
    nb.cells = [
        nbformat.v4.new_code_cell("def carre(x):\n    ### BEGIN SOLUTION\n    return x * x\n    ### END SOLUTION",
                                  metadata={"nbgrader": {**meta, "solution": True, "grade": False, "locked": False,
                                                         "grade_id": "carre"}}),
        nbformat.v4.new_code_cell("assert carre(3) == 9\nassert carre(-2) == 4",
                                  metadata={"nbgrader": {**meta, "solution": False, "grade": True, "locked": True,
                                                         "grade_id": "test_carre", "points": 2}}),
    ]
    return nb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=35, help="how many submissions (at most 200)")
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    args = parser.parse_args()
    count = max(1, min(args.students, 200))
    teacher_login, course = "prof.bench", "cours_prof_bench"
    students = [f"eleve{i:03d}" for i in range(count)]
    alone_student = "eleveseul"  # the baseline's submission, graded alone first
    password = "Bench-" + secrets.token_urlsafe(9)

    stack = Stack(env={"JHUB_ADMIN_USER": "admin"})
    stack.up()
    try:
        stack.wait_for_hub()
        roster = "login;password;role;class\n" + f"{teacher_login};{password};teacher;\n" + "".join(
            f"{s};{password};student;BENCH\n" for s in [alone_student, *students])
        stack.exec("hub", "sh", "-c", "umask 077; cat > /tmp/bench.csv && jhub-admin import /tmp/bench.csv --yes "
                   "&& rm /tmp/bench.csv", input=roster)
        stack.exec("hub", "jhub-admin", "courses", "enrol", course, "--class", "BENCH")
        teacher = HubUser(stack, teacher_login, password)
        assert teacher.login(), "the teacher cannot log in"
        teacher.make_token()
        teacher.start_server()

        def formgrader(method, route):
            r = teacher.api(method, f"/user/{teacher_login}/formgrader/api/{route}", timeout=300)
            r.raise_for_status()
            return r.json()

        source = f"/user/{teacher_login}/api/contents/{course}/source/{ASSIGNMENT}"
        teacher.api("PUT", source, json={"type": "directory"}).raise_for_status()
        teacher.api("PUT", f"{source}/{ASSIGNMENT}.ipynb",
                    json={"type": "notebook", "format": "json", "content": notebook()}).raise_for_status()
        assert formgrader("POST", f"assignment/{ASSIGNMENT}/assign")["success"]
        teacher.run("/opt/venv/bin/python", "-c", PLANT, ASSIGNMENT, *students, alone_student,
                    cwd=f"/home/{teacher_login}/{course}")

        start = time.monotonic()
        one = formgrader("POST", f"submission/{ASSIGNMENT}/{alone_student}/autograde")
        alone = time.monotonic() - start
        assert one["success"], one

        grading = f"/user/{teacher_login}/jhub-admin/grading/assignments/{ASSIGNMENT}/autograde"
        start = time.monotonic()
        teacher.api("POST", grading).raise_for_status()
        while True:
            job = teacher.api("GET", grading).json()
            if job["state"] != "running":
                break
            time.sleep(0.2)
        whole = time.monotonic() - start
        assert job["state"] == "done" and job["done"] == count and not job["failed"], job

        scores = {s["student"]: s["score"] for s in formgrader("GET", f"submissions/{ASSIGNMENT}")}
        wrong = {s: scores.get(s) for i, s in enumerate(students) if scores.get(s) != (2 if i % 2 == 0 else 0)}
        assert not wrong, wrong
        print(json.dumps({"submissions": count, "one_alone_s": round(alone, 2), "all_s": round(whole, 2),
                          "per_submission_s": round(whole / count, 2), "ratio_all_to_one": round(whole / alone, 1),
                          "target_all_s": 60}, indent=1))
        print(f"{count} submissions autograded in {whole:.1f} s ({whole / count:.2f} s each); one alone: "
              f"{alone:.2f} s; ratio {whole / alone:.1f}x; target <= 60 s: {'met' if whole <= 60 else 'NOT met'}")
    finally:
        if args.keep:
            print(f"stack kept: {stack.project} on {stack.url}")
        else:
            stack.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
