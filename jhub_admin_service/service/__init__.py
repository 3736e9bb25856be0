"""The admin-only JupyterHub managed service (tornado)."""
