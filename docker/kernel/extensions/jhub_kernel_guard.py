"""Loaded by every teaching kernel (ipython_kernel_config.py): tells the student, in their language,
why memory ran out or why their previous kernel stopped.

- A cell that asks for more memory than the student's limit (RLIMIT_DATA, set by the hub's
  spawner) gets a MemoryError: the kernel lives on, and the error comes with what the limit is
  and what to do.
- When the guard (jhub_admin_service/classroom/guard.py) stops a kernel, because the student's
  processes together went over the limit or an admin stopped it, it leaves the reason in
  /run/jhub-guard/<uid>; the next cell of the student's restarted kernel shows it, once.

This file runs in the kernel's own Python (apart from the hub's), so it imports only the
standard library.
"""
import json
import os
import sys
import time

REASONS = "/run/jhub-guard"
FRENCH = os.environ.get("LANG", "fr").startswith("fr")


def limit_mb():
    try:
        return int(os.environ["MEM_LIMIT"]) // 2 ** 20
    except (KeyError, ValueError):
        return None


def memory_error_note():
    limit = limit_mb()
    if FRENCH:
        size = f" ({limit} Mo par élève)" if limit else ""
        return (f"\nMémoire insuffisante : ce calcul demande plus que la mémoire permise{size}. "
                "Travaillez sur moins de données, ou libérez des variables avec del. Le noyau continue.")
    size = f" ({limit} MB per student)" if limit else ""
    return (f"\nOut of memory: this computation asks for more than the memory allowed{size}. "
            "Work on less data, or free variables with del. The kernel goes on.")


def stopped_note(reason):
    if reason.get("kind") == "memory":
        used, limit = reason.get("used_mb"), reason.get("limit_mb")
        if FRENCH:
            return (f"Votre noyau précédent a été arrêté : vos programmes utilisaient {used} Mo de mémoire, "
                    f"au-delà de la limite de {limit} Mo. Les variables sont perdues : relancez les cellules utiles.")
        return (f"Your previous kernel was stopped: your programs used {used} MB of memory, over the limit of "
                f"{limit} MB. Its variables are lost: run the cells you need again.")
    if reason.get("kind") == "memory-program":  # a terminal's or a detached program, not a kernel
        used, limit, command = reason.get("used_mb"), reason.get("limit_mb"), reason.get("command", "?")
        if FRENCH:
            return (f"Un de vos programmes ({command}) a été arrêté : vos programmes utilisaient {used} Mo de "
                    f"mémoire, au-delà de la limite de {limit} Mo. Ce noyau continue.")
        return (f"One of your programs ({command}) was stopped: your programs used {used} MB of memory, over "
                f"the limit of {limit} MB. This kernel goes on.")
    if reason.get("kind") == "cgroup-memory":  # the kernel's OOM killer, in the user's cgroup (guard.py)
        limit = reason.get("limit_mb")
        if FRENCH:
            return (f"Un de vos programmes a été arrêté par le système : ensemble, vos programmes ont atteint la "
                    f"limite de mémoire ({limit} Mo). Si c'était ce noyau, ses variables sont perdues : relancez "
                    "les cellules utiles.")
        return (f"One of your programs was stopped by the system: together, your programs reached the memory "
                f"limit ({limit} MB). If it was this kernel, its variables are lost: run the cells you need again.")
    if FRENCH:
        return "Votre noyau précédent a été arrêté par un administrateur. Les variables sont perdues."
    return "Your previous kernel was stopped by an administrator. Its variables are lost."


def explain_memory_error(shell, etype, value, tb, tb_offset=None):
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    print(memory_error_note(), file=sys.stderr)


def show_why_the_previous_kernel_stopped(info=None):
    # Only before a cell of the student's: the kernel's own start-up lines (exec_lines) run as
    # cells too, without history, and their output goes nowhere.
    if info is None or getattr(info, "silent", False) or not getattr(info, "store_history", True):
        return
    path = os.path.join(REASONS, str(os.getuid()))
    try:
        with open(path, "r+", encoding="utf-8") as f:
            reason = json.loads(f.read() or "{}")
            f.seek(0)
            f.truncate()  # shown once
    except (OSError, ValueError):
        return
    if reason and time.time() - reason.get("time", 0) < 3600:
        print(stopped_note(reason), file=sys.stderr)


def load_ipython_extension(ipython):
    ipython.set_custom_exc((MemoryError,), explain_memory_error)
    ipython.events.register("pre_run_cell", show_why_the_previous_kernel_stopped)
