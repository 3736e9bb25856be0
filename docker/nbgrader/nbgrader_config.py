"""Global nbgrader configuration of the hub image: /etc/jupyter/nbgrader_config.py.

Read by every nbgrader command and by the nbgrader server extensions of every user's server.
A teacher's course settings (course_id, course folder, gradebook) come on top of it from
~/.jupyter/nbgrader_config.py and from the course folder's nbgrader_config.py, both written by
jhub-admin.

* One exchange for the whole server, on the exchange volume; JHUB_EXCHANGE_ROOT moves it
  (tests). It must exist with mode 1777: `jhub-admin courses prepare-exchange` makes it so at
  every container start.
* Several courses share it: each course has its own folder in it (path_includes_course).
* The feedback page: in the server's language, hidden tests taken out (courses/feedback).
* Who takes which course comes from the hub groups nbgrader-<course> (students) and
  formgrade-<course> (its teacher), through the hub API (JupyterHubAuthPlugin), using the
  JUPYTERHUB_API_TOKEN that every single-user server has.
"""
import os

c = get_config()  # noqa: F821

c.Exchange.root = os.environ.get("JHUB_EXCHANGE_ROOT") or "/srv/nbgrader/exchange"
c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"

# The feedback a student reads: in French on a French server, without the hidden tests
# (jhub_admin_service/courses/feedback). Only where the product's package is (the users' servers).
try:
    from jhub_admin_service.courses import feedback
except ImportError:
    pass
else:
    feedback.configure(c)
