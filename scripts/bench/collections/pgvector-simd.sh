#!/bin/bash
# pgvector with and without -march=native, side by side (a benchmark, not a test; as root, on the
# machine's PostgreSQL 15, which it restarts): builds ../shared/vendor's pgvector with its default
# flags and with OPTFLAGS="" (what test/helpers/postgres.ts builds), installs each, restarts the
# cluster and runs the store benchmark, in the order native, plain, native, plain; then leaves the
# OPTFLAGS="" build installed. Run `npm run build` first.
set -euo pipefail
cd "$(dirname "$0")/../.."
TARBALL=${PGVECTOR_TARBALL:-../shared/vendor/pgvector-0.8.6.tar.gz}
B=$(mktemp -d)
trap 'rm -rf "$B"' EXIT
tar xzf "$TARBALL" -C "$B"
SRC=$(ls -d "$B"/pgvector-*)
build() {
  (cd "$SRC" && make clean >/dev/null && if [ "$1" = native ]; then make -j2 >/dev/null 2>&1; else make OPTFLAGS="" -j2 >/dev/null 2>&1; fi && make install >/dev/null)
  pg_ctlcluster --skip-systemctl-redirect 15 main restart
  sleep 2
}
for v in native plain native plain; do
  build "$v"
  echo "== $v $(date +%T)"
  node dist/scripts/bench/collections/store.js --engine postgres --n "${N:-100000}" --bulk --data structured --no-graphql --ef 40,100 2>&1 | tail -1
done
build plain
echo 'left installed: the OPTFLAGS="" build'
