#!/bin/sh
# Runs a command next to a fresh nbpair server: builds the binary, starts
# `nbpair serve` on 127.0.0.1 (CoAP 15683, DTLS 15684, HTTP 18080) in a new
# data directory on SQLite, with the rate limits off and the stream caps
# raised (the pair scenario starts and follows a hundred activations per
# user, each over an event stream of its own), waits until it is ready, runs the
# command with NBPAIR, DATA and the fleet's server flags in FLEET_FLAGS,
# then stops the server and removes the directory. NBPAIR_BIN names a
# binary built before, instead of building one; SERVE_FLAGS adds flags to
# serve.
#
#   tools/bench/with-server.sh '$NBPAIR fleet $FLEET_FLAGS --sources all --shared-sockets 16 --compare --devices 20000 --runs 3'
set -eu
cd "$(dirname "$0")/../.."
if curl -fsS http://127.0.0.1:18080/readyz >/dev/null 2>&1; then
	echo "another server answers on 127.0.0.1:18080; stop it first" >&2
	exit 1
fi
BIN=$(mktemp -d)
DATA=$(mktemp -d)
NBPAIR="$BIN/nbpair"
if [ -n "${NBPAIR_BIN:-}" ]; then
	cp "$NBPAIR_BIN" "$NBPAIR" # built once by the caller
else
	go build -o "$NBPAIR" ./cmd/nbpair
fi
"$NBPAIR" serve --data-dir "$DATA" --http-addr 127.0.0.1:18080 --coap-addr 127.0.0.1:15683 \
	--coaps-addr 127.0.0.1:15684 --log-level error \
	--rate-limit-per-user 0 --rate-limit-per-addr 0 --max-streams 100000 --max-streams-per-user 100000 ${SERVE_FLAGS:-} >"$DATA/serve.log" 2>&1 &
SERVER=$!
cleanup() {
	kill "$SERVER" 2>/dev/null || true
	wait "$SERVER" 2>/dev/null || true
	rm -rf "$BIN" "$DATA"
}
trap cleanup EXIT INT TERM
i=0
until curl -fsS http://127.0.0.1:18080/readyz >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 100 ]; then
		echo "the server did not get ready:" >&2
		cat "$DATA/serve.log" >&2
		exit 1
	fi
	sleep 0.1
done
FLEET_FLAGS="--server coap://127.0.0.1:15683 --server-dtls coaps://127.0.0.1:15684 --http http://127.0.0.1:18080 --token-file $DATA/admin.token"
export NBPAIR DATA FLEET_FLAGS
sh -c "$1"
