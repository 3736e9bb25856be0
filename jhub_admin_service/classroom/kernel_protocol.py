"""What the kernel template (kernel_template.py), its children (kernel_child.py) and the servers'
provisioner (kernel_provisioner.py) agree on. Standard library only: the template and its
children run in the teaching kernel's Python."""
import os
import sys
import time
from typing import Dict, List

STATUS = "template.json"
#: Variables that change how an interpreter starts or how a native library loads: a request whose
#: values differ from the template's gets an exec'd kernel.
STARTUP_PREFIXES = ("PYTHON", "MPL", "MATPLOTLIB", "OPENBLAS_", "OMP_", "MKL_", "LD_")
#: Modules that an interpreter imports from its path when it starts, if a folder has them; and
#: matplotlib's settings file, which it reads from the notebook's folder.
STARTUP_MODULES = ("sitecustomize", "usercustomize", "matplotlibrc")
#: The kernel's PYTHONPATH, as the hub hands it to the template (which must not import from it).
KERNEL_PATH = "JHUB_KERNEL_PYTHONPATH"
#: What the template says as soon as it has forked for a request; what the server says once it
#: has the child's pid and wants that kernel.
ACCEPTED = b"+"
GO = b"!"
#: How long the child waits for each part of the request, and for the server's GO.
REQUEST_TIMEOUT = 5.0
MAX_REQUEST = 1 << 20


def startup_variables(env: Dict[str, str]) -> Dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(STARTUP_PREFIXES)}


def module_names(folder: str) -> List[str]:
    """The top-level modules that a folder on the path offers (``numpy.py``, ``numpy/``,
    ``numpy.cpython-311-x86_64-linux-gnu.so``); a ``matplotlibrc`` is named as itself."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [name.split(".")[0] if "." in name else name for name in names]


def log(message: str) -> None:
    print(f"[kernel template {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
