"""'(view feedback)' opens the feedback page: the server extension's route and script, in a real
Jupyter Server (the end-to-end teacher module clicks the link in Chromium, in a preloaded server)."""
import pytest
import requests

from jupyter_servers import jupyter_server

TOKEN = "feedback-view-test-token"
TIMESTAMP = "2026-12-06 10:15:00.123456 UTC"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("home")
    one = root / "cours_a" / "tp1" / "feedback" / TIMESTAMP
    one.mkdir(parents=True)
    (one / "tp1.html").write_text("<html><body>Note : 2 / 3</body></html>")
    two = root / "tp2" / "feedback" / "2026-12-07 08:00:00 UTC"  # no course folder, two notebooks
    two.mkdir(parents=True)
    for name in ("partie1.html", "partie2.html"):
        (two / name).write_text("<html></html>")
    with jupyter_server(root, ["jhub_admin_service.courses.feedback_view"], TOKEN) as running:
        yield running


def test_the_route_redirects_to_the_one_page_or_lists_several(server):
    url, session = server
    r = session.get(url + "jhub-admin/feedback", params={"timestamp": TIMESTAMP}, allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"] == "/user/eleve/files/cours_a/tp1/feedback/2026-12-06%2010%3A15%3A00.123456%20UTC/tp1.html"
    assert "Note : 2 / 3" in session.get(url + "jhub-admin/feedback", params={"timestamp": TIMESTAMP}).text
    listing = session.get(url + "jhub-admin/feedback", params={"timestamp": "2026-12-07 08:00:00 UTC"},
                          headers={"Accept-Language": "fr-FR"})
    assert listing.status_code == 200 and "Retours de votre enseignant" in listing.text
    assert listing.text.count('href="/user/eleve/files/tp2/feedback/') == 2


def test_the_route_refuses_paths_and_says_when_nothing_was_fetched(server):
    url, session = server
    for bad in ("../../etc", "*", ".", "a/b", ""):
        r = session.get(url + "jhub-admin/feedback", params={"timestamp": bad}, allow_redirects=False)
        assert r.status_code in (400, 404) and "Location" not in r.headers, bad
    r = session.get(url + "jhub-admin/feedback", params={"timestamp": "2020-01-01 00:00:00 UTC"},
                    headers={"Accept-Language": "en-GB,en"})
    assert r.status_code == 404 and "Fetch Feedback" in r.text
    r = session.get(url + "jhub-admin/feedback", params={"timestamp": "2020-01-01 00:00:00 UTC"},
                    headers={"Accept-Language": "fr-FR,fr"})
    assert r.status_code == 404 and "«\u00a0Récupérer les retours\u00a0»" in r.text
    anonymous = requests.get(url + "jhub-admin/feedback", params={"timestamp": TIMESTAMP}, allow_redirects=False)
    assert anonymous.status_code in (302, 403) and "/files/" not in anonymous.headers.get("Location", "")


def test_the_script_is_put_into_jupyterlab_s_page_only(server):
    url, session = server
    lab = session.get(url + "lab")
    assert lab.status_code == 200 and 'src="/user/eleve/jhub-admin/feedback/static/view-feedback.js"' in lab.text
    assert "(view feedback)" in session.get(url + "jhub-admin/feedback/static/view-feedback.js").text
    page = session.get(url + "files/cours_a/tp1/feedback/" + TIMESTAMP + "/tp1.html")
    assert "view-feedback.js" not in page.text  # a user's own HTML file is never changed
