#!/bin/bash
# Entrypoint of the hub container. Before the hub starts:
#   1. prepare the nbgrader exchange root (mode 1777);
#   2. generate the hub <-> sidecar shared secret on first start;
#   3. recreate the local accounts from the registry on the data volume, so a
#      recreated container loses no account, password or uid (the same
#      reconcile brings teachers' course folders and gradebooks in line);
#   4. create the first admin on first start (JHUB_ADMIN_USER /
#      JHUB_ADMIN_PASSWORD; a generated password is printed once and kept in
#      a 0600 file on the data volume);
# then exec the command (by default: jupyterhub -f /etc/jupyterhub/jupyterhub_config.py).
# The hub-side reconcile (hub users and groups) is done by the jhub-admin
# service once the hub is up.
set -euo pipefail

log() { printf '[entrypoint] %s\n' "$*" >&2; }

# The same variables, with the same defaults, as jupyterhub_config.py and nbgrader_config.py.
# (JHUB_ADMIN_DATA_DIR and JHUB_ADMIN_EXCHANGE_ROOT: their names before 2026-11-26.)
DATA_DIR=${JHUB_DATA_DIR:-${JHUB_ADMIN_DATA_DIR:-/srv/jupyterhub}}
export JHUB_EXCHANGE_ROOT=${JHUB_EXCHANGE_ROOT:-${JHUB_ADMIN_EXCHANGE_ROOT:-/srv/nbgrader/exchange}}
SECRET_FILE=${JHUB_ADMIN_SIDECAR_SECRET_FILE:-/srv/jupyterhub-secrets/sidecar.secret}
export JHUB_ADMIN_REGISTRY=${JHUB_ADMIN_REGISTRY:-$DATA_DIR/jhub-admin.sqlite}

# Only prepare the product when the hub itself is started (not for
# `docker run IMAGE bash` or `docker run IMAGE jhub-admin ...`).
case "${1:-}" in
    jupyterhub|*/jupyterhub) prepare=1 ;;
    *) prepare=${JHUB_ADMIN_PREPARE:-0} ;;
esac

if [ "$prepare" = 1 ]; then
    # 1. Data volume and exchange.
    install -d -m 0700 -o root -g root "$DATA_DIR"
    install -d -m 0755 "$(dirname "$JHUB_EXCHANGE_ROOT")"
    jhub-admin courses prepare-exchange --root "$JHUB_EXCHANGE_ROOT" >/dev/null

    # 2. Sidecar shared secret (read-only for the sidecar, never logged).
    if [ ! -s "$SECRET_FILE" ]; then
        install -d -m 0755 "$(dirname "$SECRET_FILE")"
        tmp="$SECRET_FILE.tmp.$$"
        (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$tmp")
        mv -f "$tmp" "$SECRET_FILE"
        log "generated the sidecar shared secret in $SECRET_FILE"
    fi
    chmod 0600 "$SECRET_FILE"

    # The hub is not up yet: the commands below must not try to reach it
    # (the CLI would otherwise find the service token on the data volume).
    export JHUB_ADMIN_TOKEN_FILE=/nonexistent JUPYTERHUB_API_URL=

    # 3. Local accounts from the registry (no hub yet: local side only).
    if [ -e "$JHUB_ADMIN_REGISTRY" ]; then
        log "reconciling local accounts from $JHUB_ADMIN_REGISTRY"
        # An account that cannot be made is reported and the others are made; whatever fails
        # here, the hub starts, so that the admin can see and fix it from the service.
        jhub-admin reconcile --local-only \
            || log "WARNING: the reconcile of local accounts did not finish (see above); the hub starts anyway"
    else
        log "no account registry yet ($JHUB_ADMIN_REGISTRY): first start"
    fi

    # 4. First admin (idempotent: does nothing once it exists).
    jhub-admin bootstrap-admin || log "WARNING: the first admin could not be made (see above)"
    unset JHUB_ADMIN_TOKEN_FILE JUPYTERHUB_API_URL
fi

exec "$@"
