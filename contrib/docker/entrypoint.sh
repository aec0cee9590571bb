#!/bin/sh
# Start a cheesecellar node in a container: check the shared secret, initialise the
# server directory on its first start, then replace this shell with `cellar serve`, so
# the server is PID 1 and receives docker's SIGTERM itself.
#
# Settings, from the environment (the defaults are those of docker-compose.yml):
#   CELLAR_ROLE                primary, replica or standalone             [primary]
#   CELLAR_SERVERDIR           the server directory, on a volume          [/data]
#   CELLAR_HOST, CELLAR_PORT   where the server listens                   [0.0.0.0, 3141]
#   CELLAR_PRIMARY_URL         the primary a replica follows  [http://cellar-primary:3141]
#   CELLAR_SHARED_SECRET       the mounted secret shared by all nodes; empty for none
#                                                         [/run/secrets/cellar-secret]
#   CELLAR_SECRET_COPY         the private (0600) copy the server reads [/run/cellar/secret]
#   CELLAR_USER                the user the server runs as when started as root [cellar]
#   CELLAR_ROOT_PASSWORD       root's password, set on the first start of a primary
#   CELLAR_ROOT_PASSWORD_FILE  a file holding it instead (wins over CELLAR_ROOT_PASSWORD)
# cellar reads every other CELLAR_<OPTION> itself, e.g. CELLAR_MIRROR_URL (the upstream of
# root/pypi, used on the first start), CELLAR_MIRROR_CACHE_EXPIRY, CELLAR_OUTSIDE_URL.
# Arguments are further server options, given to both `cellar init` and `cellar serve`.
set -eu

: "${CELLAR_ROLE:=primary}"
: "${CELLAR_SERVERDIR:=/data}"
: "${CELLAR_HOST:=0.0.0.0}"
: "${CELLAR_PORT:=3141}"
: "${CELLAR_PRIMARY_URL:=http://cellar-primary:3141}"
: "${CELLAR_SHARED_SECRET=/run/secrets/cellar-secret}"
: "${CELLAR_SECRET_COPY:=/run/cellar/secret}"
: "${CELLAR_USER:=cellar}"

log() {
    printf 'entrypoint: %s\n' "$*" >&2
}

die() {
    log "error: $*"
    exit 1
}

# True when started as root and asked to run the server as another user.
must_drop_root() {
    [ "$(id -u)" = 0 ] || return 1
    uid=$(id -u "$CELLAR_USER" 2>/dev/null) || die "user '$CELLAR_USER' does not exist (CELLAR_USER)"
    [ "$uid" != 0 ]
}

service_owner() {
    printf '%s:%s' "$(id -u "$CELLAR_USER")" "$(id -g "$CELLAR_USER")"
}

# Run a command as CELLAR_USER (with its groups and home): `python3 -c "$BECOME" USER CMD...`.
BECOME='
import os, pwd, sys
user = pwd.getpwnam(sys.argv[1])
os.initgroups(user.pw_name, user.pw_gid)
os.setgid(user.pw_gid)
os.setuid(user.pw_uid)
os.environ["HOME"] = user.pw_dir
os.execvp(sys.argv[2], sys.argv[2:])
'

as_service_user() {
    if must_drop_root; then
        python3 -c "$BECOME" "$CELLAR_USER" "$@"
    else
        "$@"
    fi
}

# Refuse a secret that others may read; copy it to a private file the server user owns,
# since a docker compose secret is a bind mount that keeps the host's owner and mode.
prepare_secret() {
    source_file=$CELLAR_SHARED_SECRET
    [ -e "$source_file" ] || die "secret file $source_file does not exist; create it with" \
        "'cellar gen-secret --secretfile FILE' or 'openssl rand -base64 32 > FILE'" \
        "and mount it there"
    [ -f "$source_file" ] || die "secret file $source_file is not a regular file"
    if [ -n "$(find -H "$source_file" -prune \( -perm -o=r -o -perm -o=w -o -perm -o=x \) -print)" ]
    then
        die "secret file $source_file is accessible by others;" \
            "run 'chmod 600' on it on the host and start again"
    fi
    [ -r "$source_file" ] || die "secret file $source_file is not readable by $(id -un);" \
        "start the container as root or give that user the file"
    copy_dir=$(dirname -- "$CELLAR_SECRET_COPY")
    if [ ! -d "$copy_dir" ]; then
        (umask 077 && mkdir -p -- "$copy_dir")
        if must_drop_root; then chown "$(service_owner)" "$copy_dir"; fi
    fi
    partial="$CELLAR_SECRET_COPY.partial"
    (umask 077 && cat -- "$source_file" >"$partial")
    chmod 600 -- "$partial"
    if must_drop_root; then chown "$(service_owner)" "$partial"; fi
    mv -f -- "$partial" "$CELLAR_SECRET_COPY"
}

# A named volume starts out owned by the image's user; a bind-mounted host directory may
# not be, so hand whatever the server user does not own over to it.
prepare_serverdir() {
    mkdir -p -- "$CELLAR_SERVERDIR"
    if must_drop_root; then
        find "$CELLAR_SERVERDIR" ! -user "$CELLAR_USER" -exec chown "$(service_owner)" {} +
    fi
}

root_password() {
    if [ -n "${CELLAR_ROOT_PASSWORD_FILE:-}" ]; then
        [ -r "$CELLAR_ROOT_PASSWORD_FILE" ] || die "cannot read $CELLAR_ROOT_PASSWORD_FILE" \
            "(CELLAR_ROOT_PASSWORD_FILE)"
        cat -- "$CELLAR_ROOT_PASSWORD_FILE"
    else
        printf '%s' "${CELLAR_ROOT_PASSWORD:-}"
    fi
}

initialise() {
    log "initialising $CELLAR_SERVERDIR as $CELLAR_ROLE"
    if [ "$CELLAR_ROLE" = replica ]; then
        as_service_user cellar init "$@"
        return
    fi
    password=$(root_password)
    if [ -n "$password" ]; then
        as_service_user cellar init "$@" --root-passwd="$password"
    else
        as_service_user cellar init "$@"
    fi
}

main() {
    set -- --serverdir "$CELLAR_SERVERDIR" --role "$CELLAR_ROLE" "$@"
    if [ "$CELLAR_ROLE" = replica ]; then
        [ -n "$CELLAR_PRIMARY_URL" ] || die "a replica needs CELLAR_PRIMARY_URL"
        set -- --primary-url "$CELLAR_PRIMARY_URL" "$@"
    fi
    if [ -n "$CELLAR_SHARED_SECRET" ]; then
        prepare_secret
        set -- --secretfile "$CELLAR_SECRET_COPY" "$@"
    fi
    prepare_serverdir
    if [ -f "$CELLAR_SERVERDIR/.nodeinfo" ]; then
        if [ -n "${CELLAR_ROOT_PASSWORD:-}${CELLAR_ROOT_PASSWORD_FILE:-}" ]; then
            log "$CELLAR_SERVERDIR is initialised already; the root password setting is ignored"
        fi
    else
        initialise "$@"
    fi
    unset CELLAR_ROOT_PASSWORD CELLAR_ROOT_PASSWORD_FILE
    log "starting cellar serve as $CELLAR_ROLE on $CELLAR_HOST:$CELLAR_PORT"
    set -- cellar serve --host "$CELLAR_HOST" --port "$CELLAR_PORT" "$@"
    if must_drop_root; then
        exec python3 -c "$BECOME" "$CELLAR_USER" "$@"
    fi
    exec "$@"
}

main "$@"
