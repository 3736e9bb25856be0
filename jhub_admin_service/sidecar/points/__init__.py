"""Restore points: restic snapshots of the volumes, made by the sidecar (see docs/exports.md).

``policy`` holds the pure rules (settings, schedule, paths, names), ``place`` where the repository
lives (pure), ``restic`` the commands and their output, ``keys`` the repository's key and place,
``tunnel`` the helpers' way to a repository that only the sidecar reaches, ``helper`` what runs
inside a helper container, ``manager`` the sidecar's jobs.
"""
