#!/usr/bin/env bash
# Build the jhub-admin images (hub and sidecar) with BuildKit and tag them as
# docker/compose.yaml expects; with "up", start the product afterwards.
#
#   docker/build.sh            build jhub-admin/hub and jhub-admin/sidecar
#   docker/build.sh up         build, then: compose -p jhub-admin -f docker/compose.yaml up -d, with
#                              docker/compose.cgroups-v1.yaml or -v2.yaml (per-user cgroups) as
#                              the host's cgroups allow (JHUB_USER_CGROUPS=0: without)
#
# Environment:
#   JHUB_BUILD_CA      CA bundle passed as the BuildKit secret "ca" and used
#                      by apt/pip/npm inside the build (TLS-intercepting
#                      proxies, e.g. school networks). Default: the host's
#                      /etc/ssl/certs/ca-certificates.crt when it exists;
#                      "none" disables it.
#   http_proxy, https_proxy, no_proxy   passed as build arguments when set.
#   JHUB_IMAGE_TAG     image tag (default: latest).
#   COMPOSE_PROJECT_NAME  project name for "up" (default: jhub-admin).
#   DOCKER             docker client to use (default: one that has BuildKit).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
tag=${JHUB_IMAGE_TAG:-latest}
project=${COMPOSE_PROJECT_NAME:-jhub-admin}

log() { printf '[build] %s\n' "$*" >&2; }

# A docker client that can build with BuildKit: a client with buildx, or the
# classic client (Debian's 20.10 /usr/bin/docker has BuildKit built in).
if [ -z "${DOCKER:-}" ]; then
    if docker buildx version >/dev/null 2>&1; then
        DOCKER=docker
    elif [ -x /usr/bin/docker ]; then
        DOCKER=/usr/bin/docker
    else
        DOCKER=docker
    fi
fi
export DOCKER_BUILDKIT=1

build_args=()
ca=${JHUB_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
if [ "$ca" != none ] && [ -s "$ca" ]; then
    build_args+=(--secret "id=ca,src=$ca")
    log "extra CA bundle: $ca"
fi
for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    if [ -n "${!var:-}" ]; then
        build_args+=(--build-arg "$var=${!var}")
    fi
done

build() {  # build NAME DOCKERFILE
    local name=$1 dockerfile=$2 start end
    start=$(date +%s)
    log "building jhub-admin/$name:$tag from $dockerfile"
    $DOCKER build ${build_args[@]+"${build_args[@]}"} \
        -f "$root/$dockerfile" -t "jhub-admin/$name:$tag" "$root"
    end=$(date +%s)
    log "jhub-admin/$name:$tag built in $((end - start)) s," \
        "$($DOCKER image inspect -f '{{.Size}}' "jhub-admin/$name:$tag" | awk '{printf "%.0f MB", $1/1e6}')"
}

build hub docker/Dockerfile
build sidecar docker/sidecar/Dockerfile

if [ "${1:-}" = up ]; then
    if docker compose version >/dev/null 2>&1; then
        compose=(docker compose)
    elif command -v docker-compose >/dev/null 2>&1; then
        compose=(docker-compose)
    else
        log "neither 'docker compose' nor 'docker-compose' is installed"; exit 1
    fi
    # The hub container may take 90 % of the machine's memory: the rest stays to the system and
    # Docker, and the users' limits are computed from it (docs/classroom.md).
    if [ -z "${JHUB_CONTAINER_MEMORY:-}" ]; then
        JHUB_CONTAINER_MEMORY="$(awk '/^MemTotal:/ {printf "%dm", $2 * 0.9 / 1024}' /proc/meminfo)"
        export JHUB_CONTAINER_MEMORY
    fi
    # Per-user cgroups where the host has the controllers (docs/classroom.md): a subtree of the
    # host's cgroups lent to the hub; JHUB_USER_CGROUPS=0 keeps the rlimits and the guard alone.
    files=(-f "$root/docker/compose.yaml")
    if [ "${JHUB_USER_CGROUPS:-1}" != 0 ]; then
        if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
            files+=(-f "$root/docker/compose.cgroups-v2.yaml")
        elif [ -d /sys/fs/cgroup/memory ] && [ -d /sys/fs/cgroup/pids ] && [ -d /sys/fs/cgroup/cpu ]; then
            files+=(-f "$root/docker/compose.cgroups-v1.yaml")
        fi
    fi
    log "${compose[*]} -p $project ${files[*]#"$root"/} up -d (hub memory limit $JHUB_CONTAINER_MEMORY)"
    JHUB_IMAGE_TAG=$tag "${compose[@]}" -p "$project" "${files[@]}" up -d
    log "JupyterHub: http://localhost:${JHUB_HTTP_PORT:-8000}/ (first admin password: see" \
        "'${compose[*]} -p $project ${files[*]#"$root"/} logs hub')"
fi
