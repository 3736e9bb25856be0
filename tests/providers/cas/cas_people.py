"""The test CAS server's people: any password opens one of them (serve.py's CONFIG)."""
from cas_server.auth import AuthUser
from django.conf import settings


class PeopleAuthUser(AuthUser):
    def test_password(self, password):
        return self.username in settings.CONFIG["people"]

    def attributs(self):
        return dict(settings.CONFIG["people"][self.username])
