from servicetools import ADMIN, ADMIN_PASSWORD, login, service_url


def test_admin_dashboard(running):
    box, hub = running
    s = login(hub, ADMIN, ADMIN_PASSWORD)
    r = s.get(service_url(hub))
    print(r.status_code, r.url)
    print(r.text[:3000])
    print(hub.log_tail(40))
    assert r.status_code == 200
