"""The school year: closing it (plan.py decides, close.py runs the steps, journal.py lets a
re-run skip what is done), course by course in course_year.py and, in each teacher's home, as
the teacher, in teacher_side.py."""
