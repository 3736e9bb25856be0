"""ServiceContext: what the admin service's handlers share (``settings["jhub_admin"]``).

Its own module, apart from app.py, so that handlers can name it without importing the
application that imports them.
"""
from typing import Optional

from jupyterhub.utils import url_path_join

from ..accounts.registry import Registry
from ..ent.links import EntLinks
from ..jobs import JobConflict, JobManager
from ..operations import Operations
from ..sidecar.client import ExportsClient
from .preferences import Preferences


class ServiceContext:
    """What the handlers share: settings, engine, jobs, clients. ``settings["jhub_admin"]``."""

    def __init__(self, service, nav: list):
        """service: the AdminService (its settings and options); nav: the pages' nav entries."""
        self.settings = service.settings
        self.prefix = url_path_join(self.settings.service_prefix, "")
        self.hub_prefix = url_path_join(self.settings.hub_base_url, "hub/")
        self.max_upload_bytes = int(service.max_upload_mb * 1024 * 1024)
        #: Changes, one at a time (its own registry connection, held by one operation at a time).
        self.operations = Operations(self.settings)
        #: Reads and previews, on a second connection that never waits for a running import.
        self.reader = Registry(self.settings.registry_path)
        self.reads = Operations(self.settings, registry=self.reader)
        self.hub = self.operations.hub
        self.jobs = JobManager(service.jobs_file, credentials_ttl=service.credentials_ttl_hours * 3600)
        self.preferences = Preferences(service.preferences_file)
        self.nav = sorted(nav, key=lambda e: (e["order"], e["key"]))
        self.startup_report = {"state": "pending"}
        self.uploads = {}  # preview id -> (created, name, bytes): memory only, may hold passwords

    def refuse_if_accounts_busy(self) -> None:
        """Raise JobConflict (a job of the accounts runs here) or Busy (the CLI holds the lock) now,
        rather than in the job about to start."""
        current = self.jobs.running("accounts")
        if current is not None:
            raise JobConflict(current)
        with self.operations.locked():
            pass

    def ent_links(self) -> EntLinks:
        """The links and refused identities of the ENT that the ENT page sets now."""
        return EntLinks(self.reader, self.preferences.ent().issuer)

    def exports(self) -> Optional[ExportsClient]:
        """An exports (sidecar) client, or None when the sidecar is not configured here."""
        return ExportsClient.if_configured(self.settings)
