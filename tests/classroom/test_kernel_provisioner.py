"""When the teaching kernel's provisioner asks the kernel template for a fork, and when it execs
(classroom/kernel_provisioner.py): a fork only where it gives the kernel that an exec would."""
import os

from jhub_admin_service.classroom.kernel_provisioner import why_not_forked

ARGV = ["/opt/kernel/bin/python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
STATUS = {"argv": ARGV, "startup": {"PYTHONPATH": "/opt/kernel-site", "OPENBLAS_NUM_THREADS": "2"},
          "modules": ["numpy", "pandas", "random", "matplotlib"]}
ENV = {"PYTHONPATH": "/opt/kernel-site", "OPENBLAS_NUM_THREADS": "2", "LANG": "fr_FR.UTF-8"}


def command(connection="/run/jupyter/1001/kernel-1.json"):
    return [*ARGV[:-1], connection]


def test_the_teaching_kernel_in_a_plain_folder_is_forked(tmp_path):
    (tmp_path / "devoir.ipynb").write_text("{}")
    (tmp_path / "mes_fonctions.py").write_text("")
    assert why_not_forked(STATUS, command(), {**ENV, "HOME": str(tmp_path)}, str(tmp_path)) is None


def test_a_file_or_folder_named_like_an_imported_module_gets_an_exec_d_kernel(tmp_path):
    env = {**ENV, "HOME": str(tmp_path)}
    (tmp_path / "random.py").write_text("print('mine')")
    assert "random" in why_not_forked(STATUS, command(), env, str(tmp_path))
    os.remove(tmp_path / "random.py")
    (tmp_path / "pandas").mkdir()
    assert "pandas" in why_not_forked(STATUS, command(), env, str(tmp_path))
    os.rmdir(tmp_path / "pandas")
    (tmp_path / "numpy.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    assert "numpy" in why_not_forked(STATUS, command(), env, str(tmp_path))


def test_the_school_s_own_numpy_or_a_sitecustomize_on_the_kernel_s_path_gets_an_exec_d_kernel(tmp_path):
    site, notebooks = tmp_path / "site", tmp_path / "notebooks"
    notebooks.mkdir()
    (site / "tabulate").mkdir(parents=True)
    status = {**STATUS, "startup": {**STATUS["startup"], "PYTHONPATH": str(site)},
              "modules": [*STATUS["modules"], "sitecustomize", "matplotlibrc"]}
    env = {**ENV, "PYTHONPATH": str(site), "HOME": str(tmp_path)}
    assert why_not_forked(status, command(), env, str(notebooks)) is None  # a package the template lacks
    (site / "numpy").mkdir()
    assert "numpy" in why_not_forked(status, command(), env, str(notebooks))
    os.rmdir(site / "numpy")
    (site / "sitecustomize.py").write_text("")
    assert "sitecustomize" in why_not_forked(status, command(), env, str(notebooks))
    os.remove(site / "sitecustomize.py")
    (notebooks / "matplotlibrc").write_text("lines.linewidth: 4\n")  # matplotlib reads it from the folder
    assert "matplotlibrc" in why_not_forked(status, command(), env, str(notebooks))


def test_other_interpreter_variables_another_command_or_an_own_matplotlibrc_get_an_exec_d_kernel(tmp_path):
    env = {**ENV, "HOME": str(tmp_path)}
    assert why_not_forked(STATUS, command(), {**env, "PYTHONPATH": "/elsewhere"}, str(tmp_path))
    assert why_not_forked(STATUS, command(), {**env, "MPLBACKEND": "agg"}, str(tmp_path))
    assert why_not_forked(STATUS, ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "k.json"], env, str(tmp_path))
    (tmp_path / ".config" / "matplotlib").mkdir(parents=True)
    (tmp_path / ".config" / "matplotlib" / "matplotlibrc").write_text("lines.linewidth: 4\n")
    assert "matplotlibrc" in why_not_forked(STATUS, command(), env, str(tmp_path))
