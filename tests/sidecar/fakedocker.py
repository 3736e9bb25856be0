"""A fake of the few low-level Docker API calls the sidecar makes, recording
every container body; helpers "run" by writing a small archive."""
import hashlib
import os

PROJECT = "schoolx"


def volume(key, project=PROJECT, driver="local", options=None, name=None):
    return {"Name": name or "%s_%s" % (project, key), "Driver": driver, "Scope": "local",
            "Options": options, "Mountpoint": "/var/lib/docker/volumes/x/_data",
            "Labels": {"com.docker.compose.project": project,
                       "com.docker.compose.volume": key}}


class FakeAPI:
    def __init__(self, backup_dir, volumes=None, fail_exit=0, disk_use=4096):
        self.backup_dir = backup_dir
        self.disk_use = disk_use  # what the disk-use helper measures, per volume
        self.created = []      # every body POSTed to /containers/create
        self.removed = []
        self.fail_exit = fail_exit
        vols = volumes or [volume(k) for k in ("jh_home", "jh_exchange", "jh_data", "jh_backups")]
        self._volumes = {v["Name"]: v for v in vols}
        self._outputs = {}

    def inspect_container(self, cid):
        return {"Id": "c0ffee" * 10 + "abcd", "Image": "sha256:" + "1" * 64,
                "Config": {"Labels": {"com.docker.compose.project": PROJECT}},
                "Mounts": [{"Type": "volume", "Name": "%s_jh_backups" % PROJECT,
                            "Destination": "/backups"}]}

    def inspect_image(self, image):
        assert image.startswith("sha256:")
        return {"Id": image}

    def pull(self, *a, **k):  # pragma: no cover - must never be called
        raise AssertionError("the sidecar must never pull")

    def volumes(self, filters=None):
        want = filters["label"].split("=", 1)[1]
        return {"Volumes": [v for v in self._volumes.values()
                            if v["Labels"].get("com.docker.compose.project") == want]}

    def inspect_volume(self, name):
        return self._volumes[name]

    def create_container_from_config(self, config, name=None, platform=None):
        self.created.append(config)
        return {"Id": "helper%d" % len(self.created)}

    def start(self, cid):
        body = self.created[int(cid[len("helper"):]) - 1]
        env = dict(e.split("=", 1) for e in body["Env"])
        operation = body["Labels"]["org.jhub-admin.operation"]
        targets = env["JHUB_TARGETS"].split()
        if operation == "export":
            data = ("archive of %s\n" % env["JHUB_TARGETS"]).encode() * 100
            path = os.path.join(self.backup_dir, os.path.basename(env["JHUB_OUT"]))
            with open(path, "wb") as f:
                f.write(data)
            out = "%s  -\nJHUB-STATUS 0 0 0 0\n" % hashlib.sha256(data).hexdigest()
        elif operation == "disk-use":
            out = "".join("JHUB-USE %s %d 10\n" % (t, self.disk_use) for t in targets)
        elif operation == "restore-swap" and env.get("JHUB_USER"):
            out = "JHUB-RESTORED home/%s\n" % env["JHUB_USER"]
        elif operation == "restore-swap":
            out = "".join("JHUB-RESTORED %s\n" % t for t in targets)
        else:
            out = ""
        self._outputs[cid] = out

    def _fails(self, cid):
        """fail_exit: the exit status of the export helpers (the others succeed)."""
        body = self.created[int(cid[len("helper"):]) - 1]
        return self.fail_exit if body["Labels"]["org.jhub-admin.operation"] == "export" else 0

    def wait(self, cid, timeout=None):
        return {"StatusCode": self._fails(cid)}

    def logs(self, cid, stdout=True, stderr=True):
        return (self._outputs.get(cid, "") if stdout else "tar: boom" if self._fails(cid) else "").encode()

    def remove_container(self, cid, force=False):
        self.removed.append(cid)

    def containers(self, all=False, filters=None):
        return []

    def kill(self, cid):
        pass


class FakeClient:
    def __init__(self, api):
        self.api = api
