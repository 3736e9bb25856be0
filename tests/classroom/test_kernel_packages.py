"""The site list of the teaching kernel: what it accepts, and installs with a real pip into a
real venv (offline: from wheels this test builds), switched in whole or not at all."""
import asyncio
import json
import os
import subprocess
import sys
import zipfile

import pytest

from jhub_admin_service.classroom.kernel_packages import (KernelPackages, KernelPackagesError, SiteListRefused,
                                                          parse_site_list)
from jhub_admin_service.settings import AdminSettings


def test_the_site_list_takes_package_names_with_versions_and_comments():
    requirements, rejected = parse_site_list("# maths\nscipy>=1.11\n\nsympy == 1.14  # calcul formel\n"
                                             "plotly[express]==6.0\n")
    assert requirements == ["scipy>=1.11", "sympy==1.14", "plotly[express]==6.0"] and rejected == []


@pytest.mark.parametrize("line, reason", [
    ("--index-url http://evil.example/simple", "pip options"),
    ("-e git+https://example.org/x.git", "pip options"),
    ("numpy @ https://example.org/numpy.whl", "URLs"),
    ("numpy; sys_platform == 'linux'", "URLs and environment markers"),
    ("import os", "not a package name"),
    ("x" * 300, "longer than"),
])
def test_the_site_list_refuses_what_is_not_a_package_name(line, reason):
    requirements, rejected = parse_site_list(f"scipy\n{line}\n")
    assert requirements == ["scipy"] and len(rejected) == 1
    assert rejected[0].line == 2 and reason in rejected[0].reason


def test_a_package_named_twice_is_refused():
    _, rejected = parse_site_list("SciPy\nscipy>=1\n")
    assert [r.reason for r in rejected] == ["named more than once"]


def wheel(folder, name, version, code):
    """A minimal pure-Python wheel, written by hand (no network, no build backend)."""
    dist = f"{name}-{version}"
    path = folder / f"{dist}-py3-none-any.whl"
    files = {f"{name}/__init__.py": code,
             f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{dist}.dist-info/RECORD"] = "".join(f"{n},,\n" for n in files) + f"{dist}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for n, text in files.items():
            z.writestr(n, text)
    return path


@pytest.fixture(scope="module")
def kernel_venv(tmp_path_factory):
    """A venv standing for /opt/kernel (its own pip), and a folder of wheels standing for PyPI."""
    root = tmp_path_factory.mktemp("kernel")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    wheels = root / "wheels"
    wheels.mkdir()
    wheel(wheels, "tortue_demo", "1.0", "__version__ = '1.0'\n")
    wheel(wheels, "tortue_demo", "2.0", "__version__ = '2.0'\n")
    return root


@pytest.fixture
def packages(kernel_venv, tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(kernel_venv / "wheels"))
    settings = AdminSettings(kernel_python=str(kernel_venv / "venv" / "bin" / "python"),
                             kernel_site_root=str(tmp_path / "site"), kernel_packages_file=str(tmp_path / "list.txt"))
    os.makedirs(settings.kernel_site_root)
    return KernelPackages(settings)


def kernel_sees(packages, module):
    """What the kernel's Python imports with the site folder first on its path, as kernel.json says."""
    purelib = packages.purelib(os.path.join(packages.site_root, "current"))
    proc = subprocess.run([packages.python, "-c", f"import {module}; print({module}.__version__)"],
                          capture_output=True, text=True, env={"PYTHONPATH": purelib})
    return proc.stdout.strip() or proc.stderr.strip().splitlines()[-1]


def test_install_switches_in_a_new_set_and_a_failure_changes_nothing(packages):
    lines = []
    packages.save_list("tortue_demo==1.0\n")
    record = asyncio.run(packages.install(log_line=lines.append))
    assert record["packages"] == {"tortue_demo": "1.0"} and kernel_sees(packages, "tortue_demo") == "1.0"
    assert any("tortue_demo" in line for line in lines)
    first = os.readlink(os.path.join(packages.site_root, "current"))

    packages.save_list("tortue_demo==2.0\npaquet-introuvable==1.0\n")
    with pytest.raises(KernelPackagesError, match="teaching kernel is unchanged.*paquet-introuvable"):
        asyncio.run(packages.install(log_line=lines.append))
    assert os.readlink(os.path.join(packages.site_root, "current")) == first
    assert kernel_sees(packages, "tortue_demo") == "1.0"
    assert sorted(os.listdir(packages.site_root)) == sorted(["current", first, ".install.lock"])
    assert packages.installed()["packages"] == {"tortue_demo": "1.0"}

    packages.save_list("tortue_demo==2.0\n")  # an upgrade: the new set replaces the old one whole
    asyncio.run(packages.install(log_line=lines.append))
    assert kernel_sees(packages, "tortue_demo") == "2.0"
    assert not os.path.exists(os.path.join(packages.site_root, first))

    packages.save_list("")  # an empty list removes what the school had added
    assert asyncio.run(packages.install(log_line=lines.append))["packages"] == {}
    assert "No module named" in kernel_sees(packages, "tortue_demo")


def test_a_refused_list_is_not_saved(packages):
    packages.save_list("tortue_demo\n")
    with pytest.raises(SiteListRefused, match="line 2: --pre: pip options"):
        packages.save_list("tortue_demo\n--pre\n")
    assert packages.read_list() == "tortue_demo\n"


def test_the_cli_shows_sets_and_installs(packages, tmp_path):
    env = {**os.environ, "JHUB_KERNEL_PYTHON": packages.python, "JHUB_KERNEL_SITE_ROOT": packages.site_root,
           "JHUB_KERNEL_PACKAGES_FILE": packages.list_path}
    cli = [sys.executable, "-m", "jhub_admin_service.cli", "kernel"]
    refused = subprocess.run([*cli, "set", "-"], input="--pre\n", env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "pip options" in refused.stderr
    subprocess.run([*cli, "set", "-"], input="tortue_demo==1.0\n", env=env, check=True, capture_output=True, text=True)
    done = subprocess.run([*cli, "install"], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout) == {"tortue_demo": "1.0"}, done.stderr
    shown = subprocess.run([*cli, "show", "--json"], env=env, capture_output=True, text=True, check=True)
    assert json.loads(shown.stdout)["installed"]["packages"] == {"tortue_demo": "1.0"}
