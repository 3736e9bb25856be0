"""What the disk holds, for a close's preview: du(1) of the homes, the exchange and the data
volume (blocks really held: a sparse file weighs what it stores), and the data volume's room."""
import os
import shutil
import subprocess
from typing import Optional

from ..settings import AdminSettings
from .plan import Sizes

DU_TIMEOUT = 300


def du_children(folder: str) -> dict:
    """{name: bytes} of each entry of folder, from one du run ({} when it cannot be measured)."""
    if not os.path.isdir(folder):
        return {}
    try:
        out = subprocess.run(["du", "-x", "-B1", "--max-depth=1", folder], capture_output=True, text=True,
                             timeout=DU_TIMEOUT).stdout
    except subprocess.TimeoutExpired:
        return {}
    sizes = {}
    for line in out.splitlines():
        size, _, path = line.partition("\t")
        name = os.path.relpath(path, folder)
        if size.isdigit():
            sizes[name] = int(size)
    return sizes


def measure(settings: AdminSettings) -> Sizes:
    homes, exchange, data = (du_children(p) for p in (settings.home_root, settings.exchange_root, settings.data_dir))
    totals = [d.pop(".", None) for d in (homes, exchange, data)]
    free: Optional[int] = shutil.disk_usage(settings.data_dir).free if os.path.isdir(settings.data_dir) else None
    return Sizes(volumes=sum(t for t in totals if t) or None, homes=homes, exchange=exchange, free=free)
