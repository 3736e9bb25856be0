"""A real CAS 3.0 server for the ENT login tests: PyPI's django-cas-server, on 127.0.0.1.

    python serve.py CONFIG.json

CONFIG: {"port": PORT, "service_pattern": "^http://127\\.0\\.0\\.1:HUB/hub/.*$",
         "people": {"<login>": {attributes}}, "data_dir": DIR}

Any password opens a person of ``people`` (as oidc-provider's development form does), whose
attributes the service receives: CAS attributes named as an ENT's (ENTPersonProfils...). Logging
out of it ends its session and notifies the services (single logout, when the pattern asks it).
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(config_path: str) -> None:
    with open(config_path) as f:
        config = json.load(f)
    os.environ["JHUB_TEST_CAS_CONFIG"] = config_path
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cas_settings")
    sys.path.insert(0, HERE)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from cas_server.models import ReplaceAttributName, ServicePattern

    pattern, _ = ServicePattern.objects.get_or_create(name="jupyterhub", pattern=config["service_pattern"],
                                                      defaults={"single_log_out": True})
    ReplaceAttributName.objects.get_or_create(name="*", service_pattern=pattern)
    call_command("runserver", f"127.0.0.1:{config['port']}", use_reloader=False, use_threading=True)


if __name__ == "__main__":
    main(sys.argv[1])
