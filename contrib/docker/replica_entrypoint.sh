#!/bin/sh
# Start a cheesecellar replica: entrypoint.sh (next to this script) with the replica role.
# It follows CELLAR_PRIMARY_URL [http://cellar-primary:3141] and authenticates with the
# same shared secret as the primary; see entrypoint.sh for every other setting.
set -eu

CELLAR_ROLE=replica
export CELLAR_ROLE
exec "$(dirname -- "$0")/entrypoint.sh" "$@"
