"""What jupyterhub_config.py needs for nbgrader, in one call: ``configure(c)``.

1. **Teacher-only tools, at no per-user cost.** Two shared Jupyter configuration folders
   ("profiles") are written once at hub start under ``AdminSettings.profiles_root`` (default
   ``/etc/jupyter/jhub-admin``):

   * ``student/``: the nbgrader server extensions ``formgrader`` and ``course_list`` off, and the
     JupyterLab / Notebook 7 plugins ``formgrader``, ``create-assignment`` and ``course-list``
     disabled (``labconfig/page_config.json``). Students keep the assignment list and validation.
   * ``teacher/``: every nbgrader extension on, plus this module's server extension (point 2)
     and the Formgrader's additions (``courses/grading``: a course menu, "autograde every
     submission").

   A ``pre_spawn_hook`` puts one of them first in ``JUPYTER_CONFIG_PATH`` of the user's server:
   ``teacher`` for members of the hub group ``teachers`` or of any ``formgrade-<course>``
   group, ``student`` otherwise. Nothing is run per user (no ``jupyter labextension disable``).
   The folders come before ``sys.prefix/etc/jupyter`` (where nbgrader enables everything), and
   JupyterLab and Jupyter Server merge these settings key by key, so the profile wins.

2. **The formgrader renders inside JupyterLab under JupyterHub >= 4.1.** JupyterHub's single-user
   servers send ``Content-Security-Policy: frame-ancestors 'none'`` on every page, and the
   formgrader's JupyterLab panel is an iframe, so it stays blank (jupyter/nbgrader#1870). nbgrader
   first answered with ``frame-ancestors 'self'`` on all its handlers for everyone (#1915), then
   reverted it (#1947): on a same-origin hub, any page of the origin could then frame them. Here
   the relaxation is narrower: only on a teacher's own server (the extension is enabled by the
   teacher profile only) and only for the formgrader's pages (``<base_url>formgrader/``); every
   other page, and every student's server, keeps ``'none'``. The framing page must be same-origin,
   and on this hub a teacher's browser only shows same-origin pages the teacher may open (the
   hub, the teacher's own server, services); other users' servers are not accessible to them.

3. **The hub API for nbgrader's JupyterHubAuthPlugin.** The plugin reads the user's own groups
   (``GET /hub/api/users/<self>``), so the server token gets ``read:users:groups!user``.

4. The exchange location (``AdminSettings.exchange_root``) is passed to every server, where
   nbgrader's configuration reads it as ``JHUB_EXCHANGE_ROOT``.

This module is also the Jupyter Server extension of point 2 (``_load_jupyter_server_extension``);
it imports nothing heavy at module level, as it is loaded in every teacher's server.
"""
import json
import os
import re

from ..settings import AdminSettings
from .rules import GRADER_GROUP_PREFIX

#: This module, as a Jupyter Server extension (point 2).
SERVER_EXTENSION = __name__
#: The Formgrader's course menu and "autograde every submission" (courses/grading), teachers only.
GRADING_EXTENSION = "jhub_admin_service.courses.grading"
#: "(view feedback)" in the Assignment List opens the feedback page (courses/feedback_view), everyone.
FEEDBACK_VIEW_EXTENSION = "jhub_admin_service.courses.feedback_view"
#: nbgrader's words in French in JupyterLab and the Formgrader (courses/nbgrader_words), everyone.
NBGRADER_WORDS_EXTENSION = "jhub_admin_service.courses.nbgrader_words"
#: JupyterLab in the browser's language until the user picks one (classroom/lab_language), everyone.
LAB_LANGUAGE_EXTENSION = "jhub_admin_service.classroom.lab_language"
TEACHER_GROUP = "teachers"
TEACHER_ONLY_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                        "@jupyter/nbgrader:course-list")
NBGRADER_SERVER_EXTENSIONS = ("formgrader", "course_list", "assignment_list", "validate_assignment")
TEACHER_ONLY_SERVER_EXTENSIONS = ("formgrader", "course_list")
SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server", "read:users:name!user",
                       "read:users:groups!user"]


def profile_files(profile):
    """{relative path: JSON data} for a profile ('teacher' or 'student')."""
    teacher = profile == "teacher"
    server_ext = {f"nbgrader.server_extensions.{name}": teacher or name not in TEACHER_ONLY_SERVER_EXTENSIONS
                  for name in NBGRADER_SERVER_EXTENSIONS}
    server_ext[SERVER_EXTENSION] = teacher
    server_ext[GRADING_EXTENSION] = teacher
    server_ext[FEEDBACK_VIEW_EXTENSION] = True
    server_ext[NBGRADER_WORDS_EXTENSION] = True
    server_ext[LAB_LANGUAGE_EXTENSION] = True
    disabled = {plugin: not teacher for plugin in TEACHER_ONLY_PLUGINS}
    return {
        "jupyter_server_config.d/jhub-admin-nbgrader.json": {"ServerApp": {"jpserver_extensions": server_ext}},
        "labconfig/page_config.json": {"disabledExtensions": disabled},
    }


def write_profiles(root: str) -> str:
    """Write the student and teacher profiles (idempotent; world-readable). Returns root."""
    for profile in ("student", "teacher"):
        for rel, data in profile_files(profile).items():
            path = os.path.join(root, profile, rel)
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            text = json.dumps(data, indent=2, sort_keys=True) + "\n"
            try:
                with open(path) as f:
                    if f.read() == text:
                        continue
            except OSError:
                pass
            with open(path + ".tmp", "w") as f:
                f.write(text)
            os.chmod(path + ".tmp", 0o644)
            os.replace(path + ".tmp", path)
    for d in (root, os.path.join(root, "student"), os.path.join(root, "teacher")):
        os.chmod(d, 0o755)
    return root


def profile_for(group_names):
    if TEACHER_GROUP in group_names or any(g.startswith(GRADER_GROUP_PREFIX) for g in group_names):
        return "teacher"
    return "student"


def make_pre_spawn_hook(root: str, exchange_root: str, previous=None):
    async def pre_spawn_hook(spawner):
        if previous is not None:
            result = previous(spawner)
            if hasattr(result, "__await__"):
                await result
        groups = {g.name for g in spawner.user.groups}
        profile = profile_for(groups)
        env = dict(spawner.environment or {})
        config_path = [os.path.join(root, profile)]
        if env.get("JUPYTER_CONFIG_PATH"):
            config_path.append(env["JUPYTER_CONFIG_PATH"])
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(config_path)
        env.setdefault("JHUB_EXCHANGE_ROOT", exchange_root)
        spawner.environment = env
        spawner.log.info("nbgrader profile for %s: %s", spawner.user.name, profile)

    pre_spawn_hook.jhub_admin_previous = previous
    return pre_spawn_hook


def configure(c, settings: AdminSettings = None) -> str:
    """Call from jupyterhub_config.py after the Spawner settings: ``hub_hooks.configure(c)``."""
    settings = settings or AdminSettings()
    try:
        root = write_profiles(settings.profiles_root)
    except PermissionError:
        # A development hub not running as root: a private, world-readable copy instead.
        import tempfile
        root = write_profiles(tempfile.mkdtemp(prefix="jhub-admin-profiles-"))
        os.chmod(root, 0o755)
    previous = c.Spawner.pre_spawn_hook if "pre_spawn_hook" in c.Spawner else None
    if hasattr(previous, "jhub_admin_previous"):  # configure() called twice: replace, don't chain
        previous = previous.jhub_admin_previous
    c.Spawner.pre_spawn_hook = make_pre_spawn_hook(root, settings.exchange_root, previous)
    c.Spawner.server_token_scopes = SERVER_TOKEN_SCOPES
    return root


# The Jupyter Server extension (teacher servers only) --------------------------------------------

def formgrader_csp(policy):
    """The same policy, with frame-ancestors 'self' instead of 'none'."""
    if "frame-ancestors" not in policy:
        return policy
    return re.sub(r"frame-ancestors\s+'none'", "frame-ancestors 'self'", policy)


def _jupyter_server_extension_points():
    return [{"module": SERVER_EXTENSION}]


def _load_jupyter_server_extension(serverapp):
    from tornado.web import OutputTransform

    prefix = serverapp.web_app.settings.get("base_url", "/").rstrip("/") + "/formgrader/"

    class FormgraderFrameAncestors(OutputTransform):
        """frame-ancestors 'self' on this server's formgrader pages only (its JupyterLab panel is an iframe)."""

        def __init__(self, request):
            super().__init__(request)
            self.applies = request.path.startswith(prefix)

        def transform_first_chunk(self, status_code, headers, chunk, finishing):
            if self.applies and "Content-Security-Policy" in headers:
                headers["Content-Security-Policy"] = formgrader_csp(headers["Content-Security-Policy"])
            return status_code, headers, chunk

    serverapp.web_app.add_transform(FormgraderFrameAncestors)
    serverapp.log.info("jhub-admin: formgrader pages may be framed by this server's own pages (%s)", prefix)


load_jupyter_server_extension = _load_jupyter_server_extension
