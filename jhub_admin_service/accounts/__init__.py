"""Accounts: a class list read into a Roster, planned against the registry, then applied to
local accounts (shadow tools in batches) and to the hub's users and groups.

Pure: ``roster``, ``logins``, ``plan``, ``groups``. Effects: ``registry`` (its own database),
``local`` (shadow tools), ``passwords`` (CPU), ``credentials`` (the one-time file), ``engine``
(the steps of an import or a change, sequenced by ``operations.Operations``).
"""
