"""``jhub-admin``: the command line, one module per verb group (see ``main``)."""
