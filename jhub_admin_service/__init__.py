"""jhub-admin: accounts, courses and exports for a school JupyterHub."""
__version__ = "0.1.0"
