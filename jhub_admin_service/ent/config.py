"""The ENT's settings, as the Settings page keeps them (the "ent" entry of the preferences
file), checked; and the addresses each protocol family uses (pure).

- ``oidc``: OpenID Connect with discovery: the issuer's ``.well-known/openid-configuration``
  names the endpoints, the end-session one included;
- ``entcore``: Open ENT NG's OAuth2: ``/auth/oauth2/auth``, ``/auth/oauth2/token`` (the client's
  secret in HTTP Basic) and ``/auth/oauth2/userinfo``, scope ``userinfo``; it has no logout for
  applications;
- ``cas``: CAS 2.0 or 3.0 (``serviceValidate`` / ``p3/serviceValidate``, with attributes): the
  address is the CAS server's (``https://ent.example.fr/cas``); logged out by its ``/logout``.
"""
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

FAMILIES = ("oidc", "entcore", "cas")
#: The roles whose local password the admin can turn off (an admin's account always keeps its own,
#: so that an ENT out of order never locks the school out of its hub).
LOCAL_ROLES = ("student", "teacher")


class EntSettingRefused(ValueError):
    """A setting the Settings page cannot keep."""


@dataclass(frozen=True)
class EntConfig:
    family: str = ""  # "" when logging in with the ENT is off
    name: str = "ENT"
    url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    uai: str = ""
    cas_version: int = 3
    #: The scopes to ask for, space-separated ("" : the family's own; for OpenID Connect, those
    #: of openid, profile and email that the issuer supports).
    scopes: str = ""
    #: The names of the ENT's fields that carry the lists' identifier and the person's type, when
    #: they are none of those that identity.NAMES knows ("" : those).
    id_field: str = ""
    type_field: str = ""
    #: The roles that may still log in with their local password.
    local_roles: tuple = LOCAL_ROLES

    @property
    def enabled(self) -> bool:
        return self.family in FAMILIES and bool(self.url)

    @property
    def issuer(self) -> str:
        """Whose subjects the links name: the protocol and the address (another ENT, or another
        protocol of the same ENT, names people otherwise)."""
        return f"{self.family} {self.url.lower()}" if self.enabled else ""

    def local_password_allowed(self, role: str, is_admin: bool) -> bool:
        return is_admin or role not in LOCAL_ROLES or role in self.local_roles

    def to_json(self, with_secret: bool = True) -> dict:
        data = asdict(self)
        data["local_roles"] = list(self.local_roles)
        if not with_secret:
            data["client_secret"] = "********" if self.client_secret else ""
        return data


def from_json(data) -> EntConfig:
    """The EntConfig of the preferences' "ent" entry; off when missing or unreadable."""
    if not isinstance(data, dict):
        return EntConfig()
    try:
        return checked(**{k: v for k, v in data.items() if k in EntConfig.__dataclass_fields__})
    except (EntSettingRefused, TypeError, ValueError):
        return EntConfig()


def checked(family="", name="ENT", url="", client_id="", client_secret="", uai="", cas_version=3, scopes="",
            id_field="", type_field="", local_roles=LOCAL_ROLES) -> EntConfig:
    family = (family or "").strip().lower()
    if family and family not in FAMILIES:
        raise EntSettingRefused("the ENT's protocol must be OpenID Connect (oidc), entcore or CAS (cas)")
    url = (url or "").strip().rstrip("/")
    if family:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise EntSettingRefused("the ENT's address must look like https://ent.example.fr")
        if family != "cas" and not (client_id or "").strip():
            raise EntSettingRefused("the ENT gives the application a client id: it is needed")
    uai = (uai or "").strip().upper()
    if uai and not (len(uai) == 8 and uai[:7].isdigit() and uai[7].isalpha()):
        raise EntSettingRefused("a UAI is seven digits and a letter, like 0751234A")
    if str(cas_version).strip() not in ("2", "3"):
        raise EntSettingRefused("the CAS version must be 2 or 3")
    scopes = " ".join(str(scopes or "").replace(",", " ").split())
    if any(not s.isprintable() or '"' in s for s in scopes.split()):
        raise EntSettingRefused("the scopes are words separated by spaces")
    fields = [(f or "").strip() for f in (id_field, type_field)]
    if any(f and not f.replace("_", "").replace("-", "").replace(":", "").replace(".", "").isalnum() for f in fields):
        raise EntSettingRefused("a field's name is one word, like externalId or ENTPersonJointure")
    roles = tuple(r for r in LOCAL_ROLES if r in set(local_roles or ()))
    return EntConfig(family=family, name=(name or "").strip()[:60] or "ENT", url=url,
                     client_id=(client_id or "").strip(), client_secret=(client_secret or "").strip(), uai=uai,
                     cas_version=int(cas_version), scopes=scopes, id_field=fields[0], type_field=fields[1],
                     local_roles=roles)


def field_names(config: EntConfig) -> dict:
    """identity.identity_from's names that the admin set."""
    return {fact: name for fact, name in (("external_id", config.id_field), ("type", config.type_field)) if name}


def discovery_url(config: EntConfig) -> str:
    return config.url + "/.well-known/openid-configuration"


def oauth_endpoints(config: EntConfig, discovered: dict = None) -> dict:
    """The GenericOAuthenticator traits for an OAuth2 family. ``discovered``: the issuer's
    OpenID configuration (oidc only)."""
    chosen = config.scopes.split()
    if config.family == "entcore":
        return {"authorize_url": config.url + "/auth/oauth2/auth", "token_url": config.url + "/auth/oauth2/token",
                "userdata_url": config.url + "/auth/oauth2/userinfo", "scope": chosen or ["userinfo"],
                "basic_auth": True, "logout_url": ""}
    discovered = discovered or {}
    scopes = set(discovered.get("scopes_supported") or ["openid", "profile"])
    return {"authorize_url": discovered.get("authorization_endpoint", ""),
            "token_url": discovered.get("token_endpoint", ""),
            "userdata_url": discovered.get("userinfo_endpoint", ""),
            "scope": chosen or [s for s in ("openid", "profile", "email") if s in scopes] or ["openid"],
            "basic_auth": "client_secret_basic" in (discovered.get("token_endpoint_auth_methods_supported")
                                                     or ["client_secret_basic"]),
            "logout_url": discovered.get("end_session_endpoint", "")}
