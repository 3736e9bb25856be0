"""Complete the teaching kernel's kernel.json (run by the Dockerfile with the kernel's Python).

The site packages that a school adds (/opt/kernel-site/current, see docs/classroom.md) come
first on the kernel's path, so that a package the school upgrades wins over the image's copy;
matplotlib reads the kernel's defaults (a font with accents, the decimal comma). The image's
kernel extensions (extensions/, e.g. the guard's messages) come last on the path. Its kernels
are forked from the kernel template where they can be (the provisioner below).
"""
import json
import sys
import sysconfig

SITE_ROOT = "/opt/kernel-site/current"
EXTENSIONS = "/opt/jhub-admin/kernel/extensions"

path = sys.argv[1]
with open(path) as f:
    spec = json.load(f)
purelib = sysconfig.get_path("purelib", vars={"base": SITE_ROOT, "platbase": SITE_ROOT})
spec["env"] = {"PYTHONPATH": purelib + ":" + EXTENSIONS, "MATPLOTLIBRC": sys.prefix + "/etc/matplotlibrc"}
# Forked from the kernel template where that gives the same kernel (the servers' package,
# jhub_admin_service/classroom/kernel_provisioner.py); exec'd otherwise.
spec.setdefault("metadata", {})["kernel_provisioner"] = {"provisioner_name": "jhub-forked-kernel", "config": {}}
with open(path, "w") as f:
    json.dump(spec, f, indent=1, ensure_ascii=False)
print(json.dumps(spec, ensure_ascii=False))
