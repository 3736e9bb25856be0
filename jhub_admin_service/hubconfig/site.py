"""What the hub's configuration reads of the machine: the environment and the data volume."""
import os
import secrets
from typing import Mapping, Optional

from ..settings import DATA_DIR, settings_file_path


class Site:
    def __init__(self, environ: Optional[Mapping[str, str]] = None):
        self.environ = dict(os.environ if environ is None else environ)
        self.data_dir = self.env("JHUB_DATA_DIR", DATA_DIR)

    def env(self, name: str, default: str = "") -> str:
        return self.environ.get(name) or default

    def path(self, name: str) -> str:
        """A file of the data volume."""
        return os.path.join(self.data_dir, name)

    @property
    def settings_file(self) -> str:
        return settings_file_path(self.environ)

    @property
    def site_config(self) -> str:
        return self.env("JHUB_SITE_CONFIG", self.path("jupyterhub_site_config.py"))

    def secret(self, name: str) -> str:
        """A token kept on the data volume, generated once, mode 0600."""
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        path = self.path(name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            with open(path) as f:
                return f.read().strip()
        token = secrets.token_hex(32)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        return token
