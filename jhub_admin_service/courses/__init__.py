"""nbgrader courses: the pure rules, the course tables, the exchange, the teachers' folders
(written as each teacher) and the hub hooks.

Kept light on purpose: ``courses.hub_hooks`` is loaded in every teacher's server and
``courses.teacher_homes`` runs as a helper process; neither should import more than it needs.
"""
