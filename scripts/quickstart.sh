#!/usr/bin/env bash
# Brig in 60 seconds on the embedded default (SQLite, nothing to install):
# record a short agent session in a fresh ledger, sign it, prove one event, verify everything,
# export the agent's evidence bundle and verify it offline; then drill the whole loop against
# scripted scheming agents (brig drill), the results recorded in the same ledger.
# Usage: ./scripts/quickstart.sh [DATA_DIR]      (default: a new temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p brig
brig=./target/release/brig
data=${1:-$(mktemp -d)/brig-data}

run() { printf '\n$ %s\n' "$*"; "$@"; }

run "$brig" init --data "$data"
run "$brig" ingest --data "$data" examples/events.jsonl
run "$brig" ledger show --data "$data"
run "$brig" ledger checkpoint --data "$data"
run "$brig" ledger prove --data "$data" --index 16 -o "$data/event-16.tlog-proof"
run "$brig" ledger verify-proof "$data/event-16.tlog-proof" --key "$data/keys/ledger.vkey"
run "$brig" ledger verify --data "$data"
run "$brig" evidence export --data "$data" --agent repo-assistant -o "$data/evidence.tar.zst"
run "$brig" evidence verify "$data/evidence.tar.zst" --key "$data/keys/ledger.vkey"
run "$brig" drill --data "$data"
printf '\nData directory: %s\n' "$data"
