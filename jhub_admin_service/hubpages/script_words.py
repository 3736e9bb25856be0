"""The English words that JupyterHub's own scripts write into its pages, with no translation hook:
the spawn page's progress events and its Stop button, the home page's button after a stop. The
page (templates/page.html) replaces them as they appear, by exact words or by pattern, with the
page's language; an upgrade of JupyterHub that changes one leaves it in English, which
tests/browser/test_browser_admin.py and tests/e2e/test_e2e_first_day.py find.

The spawner's own progress events (classroom/spawner.py) are English msgids put here as well.
"""
from ..service.i18n import N_

#: {English as the script writes it (trimmed): msgid of the translation}
WORDS = {
    # static/js/home.js, after "Stop my server"
    "Start My Server": N_("Start my server"),
    "Your server is stopping": N_("Your server is stopping"),
    "Start your default server": N_("Start your server"),
    # templates/spawn_pending.html's script, and the events of apihandlers/users.py and spawner.py
    "Stopping...": N_("Stopping…"),
    "Stopping server...": N_("Stopping the server…"),
    "Server stopped successfully!": N_("The server is stopped."),
    "Stop Server": N_("Stop the server"),
    "Server requested": N_("Server requested"),
    "Spawning server...": N_("Starting the server…"),
    "Server ready at": N_("Server ready:"),
    "Spawn failed": N_("The start failed"),
    "Spawn cancelled": N_("The start was cancelled"),
    # classroom/spawner.py
    "Starting your server…": N_("Starting your server…"),
}
#: [(JavaScript regular expression of the whole text, msgid with $1 where the group goes)]
PATTERNS = [
    (r"Waiting for a start slot \((\d+) in line\)…", N_("Waiting for a start slot ($1 in line)…")),
    (r"Spawn failed: ([\s\S]*)", N_("The start failed: $1")),
    (r"Error stopping server: ([\s\S]*)", N_("The server could not be stopped: $1")),
]
