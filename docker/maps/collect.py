"""Writes folium's web assets (assets.json) from the npm packages that ``npm pack`` fetched.

    python3 collect.py PACKS_DIR OUT_DIR

Each file is taken from its package as published; two are made here: the Bootstrap 3
Glyphicons stylesheet (the glyphicons part of bootstrap@3.4.1's CSS, which folium's icons use,
without the rest of Bootstrap 3, which would fight Bootstrap 5), and the rotation classes that
folium's rotated icons use (``.fa-rotate-N``, folium's own file on a CDN). Standard library only.
"""
import json
import os
import re
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
#: (tarball name, path inside it, path under OUT_DIR): a trailing "/" copies a folder.
FILES = [
    ("leaflet-1.9.3.tgz", "package/dist/leaflet.js", "leaflet/leaflet.js"),
    ("leaflet-1.9.3.tgz", "package/dist/leaflet.css", "leaflet/leaflet.css"),
    ("leaflet-1.9.3.tgz", "package/dist/images/", "leaflet/images/"),
    ("jquery-3.7.1.tgz", "package/dist/jquery.min.js", "jquery/jquery.min.js"),
    ("bootstrap-5.2.2.tgz", "package/dist/js/bootstrap.bundle.min.js", "bootstrap/js/bootstrap.bundle.min.js"),
    ("bootstrap-5.2.2.tgz", "package/dist/css/bootstrap.min.css", "bootstrap/css/bootstrap.min.css"),
    ("bootstrap-3.4.1.tgz", "package/dist/fonts/", "glyphicons/fonts/"),
    ("fortawesome-fontawesome-free-6.2.0.tgz", "package/css/all.min.css", "fontawesome/css/all.min.css"),
    ("fortawesome-fontawesome-free-6.2.0.tgz", "package/webfonts/", "fontawesome/webfonts/"),
    ("drmonty-leaflet-awesome-markers-2.0.2.tgz", "package/js/leaflet.awesome-markers.js",
     "awesome-markers/leaflet.awesome-markers.js"),
    ("drmonty-leaflet-awesome-markers-2.0.2.tgz", "package/css/leaflet.awesome-markers.css",
     "awesome-markers/leaflet.awesome-markers.css"),
    ("drmonty-leaflet-awesome-markers-2.0.2.tgz", "package/css/images/", "awesome-markers/images/"),
]
GLYPHICONS = re.compile(r"@font-face \{\s*font-family: [\"']Glyphicons Halflings[\"'];.*?\.glyphicon-menu-up:before \{[^}]*\}",
                        re.S)


def copy(packs: str, out: str) -> None:
    for tarball, inside, dest in FILES:
        with tarfile.open(os.path.join(packs, tarball)) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and
                       (m.name == inside or (inside.endswith("/") and m.name.startswith(inside)))]
            if not members:
                raise SystemExit(f"{tarball} has no {inside}")
            for member in members:
                target = os.path.join(out, dest + member.name[len(inside):] if inside.endswith("/") else dest)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with tar.extractfile(member) as src, open(target, "wb") as dst:
                    dst.write(src.read())


def glyphicons(packs: str, out: str) -> None:
    with tarfile.open(os.path.join(packs, "bootstrap-3.4.1.tgz")) as tar:
        css = tar.extractfile("package/dist/css/bootstrap.css").read().decode()
    found = GLYPHICONS.search(css)
    if not found:
        raise SystemExit("the Glyphicons part of bootstrap@3.4.1's CSS was not found")
    write(out, "glyphicons/css/bootstrap-glyphicons.css", found.group(0) + "\n")


def rotations(out: str) -> None:
    write(out, "awesome-markers/leaflet.awesome.rotate.min.css",
          "".join(f".fa-rotate-{n}{{transform:rotate({n}deg)}}" for n in range(1, 360)) + "\n")


def write(out: str, path: str, text: str) -> None:
    target = os.path.join(out, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)


def main(packs: str, out: str) -> None:
    copy(packs, out)
    glyphicons(packs, out)
    rotations(out)
    with open(os.path.join(HERE, "assets.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    missing = [path for path in manifest["assets"].values() if not os.path.isfile(os.path.join(out, path))]
    if missing:
        raise SystemExit(f"missing assets: {missing}")
    write(out, "assets.json", json.dumps(manifest["assets"], indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
