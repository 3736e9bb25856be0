"""Restore points: restic snapshots of the volumes, made by the sidecar (see docs/exports.md).

``policy`` holds the pure rules (settings, schedule, paths, names), ``restic`` the commands and
their output, ``helper`` what runs inside a helper container, ``manager`` the sidecar's jobs.
"""
