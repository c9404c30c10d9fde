#!/bin/sh
# Runs the benchmarks of BENCHMARKS.md, each against a fresh server, and
# keeps their output in DIR (bench-results by default). The capacity sweep
# is separate (see BENCHMARKS.md): it runs for long. Every scenario sends
# from one source address per device (--sources all), as a real fleet does,
# through 16 shared sockets (--shared-sockets 16), so that the generator
# opens no socket per device (BENCHMARKS.md, "The generator").
#
#   tools/bench/run-all.sh [DIR]
set -eu
cd "$(dirname "$0")/../.."
OUT=${1:-bench-results}
mkdir -p "$OUT"
NBPAIR_BIN=$(mktemp -d)/nbpair
export NBPAIR_BIN
trap 'rm -rf "$(dirname "$NBPAIR_BIN")"' EXIT
go build -o "$NBPAIR_BIN" ./cmd/nbpair
run() {
	name=$1
	shift
	echo "== $name: $*"
	tools/bench/with-server.sh "$*" >"$OUT/$name.txt" 2>"$OUT/$name.progress" || echo "   (exit status $?)"
	tail -n 12 "$OUT/$name.txt"
}
run register '$NBPAIR fleet $FLEET_FLAGS --sources all --shared-sockets 16 --compare --devices 20000 --runs 3'
run update '$NBPAIR fleet $FLEET_FLAGS --sources all --shared-sockets 16 --scenario update --devices 20000 --duration 20s --runs 3'
run pair-activate-first '$NBPAIR fleet $FLEET_FLAGS --sources all --shared-sockets 16 --scenario pair --pair-order activate-first --devices 2000 --runs 3'
run pair-one-at-a-time '$NBPAIR fleet $FLEET_FLAGS --sources all --shared-sockets 16 --scenario pair --pair-order activate-first --devices 300 --concurrency 1 --runs 3'
run pair-under-storm '$NBPAIR fleet $FLEET_FLAGS --sources all --shared-sockets 16 --scenario pair --pair-order activate-first --devices 300 --storm-devices 20000 --runs 3'
run pair-register-first '$NBPAIR fleet $FLEET_FLAGS --sources all --shared-sockets 16 --scenario pair --pair-order register-first --devices 2000 --runs 3'
run dtls '$NBPAIR fleet $FLEET_FLAGS --sources all --dtls --devices 1000 --runs 3'
run lossy-pair '$NBPAIR fleet $FLEET_FLAGS --sources all --shared-sockets 16 --scenario lossy-pair --runs 3'
