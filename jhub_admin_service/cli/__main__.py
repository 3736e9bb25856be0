"""``python -m jhub_admin_service.cli``: the same as the ``jhub-admin`` command."""
import sys

from .main import main

sys.exit(main())
