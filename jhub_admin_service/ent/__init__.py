"""Logging in with the school's ENT (its CAS or OAuth2 / OpenID Connect server) on the accounts
that the class lists made.

    identity.py    what the ENT answered -> EntIdentity (pure)
    matching.py    EntIdentity + the registry's accounts and links -> Match or Refused (pure)
    config.py      the ENT's settings, as the Settings page keeps them, checked (pure)
    links.py       the identities linked to accounts, and those that matched none (registry)
    authenticator.py  the hub's authenticator: oauthenticator's GenericOAuthenticator for the
                   ENT, PAM (hubpages.authenticator) for the local password, on one login page

The ENT authenticates; the class lists decide who has an account: every pupil's server runs as
their own local uid, so an identity that matches no account is refused, never created.
"""
