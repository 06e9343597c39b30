#!/usr/bin/env bash
# Runs every check a submission must pass: formatting, lints, and the whole test suite.
# Installs what the tests need when it is missing: Rust components, the MCP servers and SDK
# (npm), sigma-cli and the OCSF schema (PyPI), Schemathesis (PyPI), Chromium and a PostgreSQL
# server (Debian), which it starts on a free loopback port for the run and stops afterwards.
# The store suite and the command-line suite run on both backends, SQLite and PostgreSQL.
# BRIG_TEST_DATABASE=postgres://… uses that server instead of starting one.
# Usage: ./scripts/test.sh            (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

say "checking the toolchain"
command -v cargo >/dev/null || { echo "cargo is not installed: install Rust (https://rustup.rs)" >&2; exit 1; }
for comp in rustfmt clippy; do
  if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "installing the $comp component"
    rustup component add "$comp"
  fi
done
if [ ! -d ../shared/vectors/tlog ]; then
  echo "warning: ../shared/vectors/tlog is missing; the conformance tests will fail" >&2
fi

say "MCP reference servers, a shell MCP server (mcp-server-commands), the TypeScript SDK client for the proxy tests, playwright-core for the console's browser tests (npm, pinned)"
# name@version, each checked against its installed package.json
npm_pins=(
  "@modelcontextprotocol/server-filesystem@2026.8.31"
  "@modelcontextprotocol/server-everything@2026.8.31"
  "@modelcontextprotocol/sdk@1.32.2"
  "mcp-server-commands@0.5.0"
  # Drives Debian's chromium (below) for the console tests; it never downloads a browser.
  "playwright-core@1.64.1"
)
npm_missing=0
for pin in "${npm_pins[@]}"; do
  name=${pin%@*} version=${pin##*@}
  grep -q "\"version\": \"$version\"" "target/npm/node_modules/$name/package.json" 2>/dev/null || npm_missing=1
done
if [ "$npm_missing" = 1 ]; then
  if ! command -v npm >/dev/null; then
    echo "installing Node.js and npm"
    apt-get update -qq && apt-get install -y -qq nodejs npm
  fi
  mkdir -p target/npm
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix target/npm --no-audit --no-fund --loglevel=error "${npm_pins[@]}"
fi

say "Chromium for the post-mortem rendering check and the console tests (Debian's chromium, headless)"
if [ -z "${BRIG_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export BRIG_CHROMIUM="${BRIG_CHROMIUM:-/usr/bin/chromium}"

say "sigma-cli for the rule-pack check (PyPI, pinned, in target/sigma-venv)"
sigma_version=3.1.0
if ! target/sigma-venv/bin/pip show sigma-cli 2>/dev/null | grep -qx "Version: $sigma_version"; then
  command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
  python3 -m venv target/sigma-venv
  target/sigma-venv/bin/pip install -q --disable-pip-version-check "sigma-cli==$sigma_version"
fi
export BRIG_SIGMA_CLI="$PWD/target/sigma-venv/bin/sigma"

say "OCSF 1.8.0 schema for the OCSF export check (PyPI ocsf-json-schema, pinned, in target/ocsf-venv)"
ocsf_version=1.2.0
if ! target/ocsf-venv/bin/pip show ocsf-json-schema 2>/dev/null | grep -qx "Version: $ocsf_version"; then
  command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
  python3 -m venv target/ocsf-venv
  target/ocsf-venv/bin/pip install -q --disable-pip-version-check "ocsf-json-schema==$ocsf_version"
fi
BRIG_OCSF_SCHEMA="$(target/ocsf-venv/bin/python -c 'import ocsf_json_schema, pathlib; print(pathlib.Path(ocsf_json_schema.__file__).parent / "ocsf" / "1.8.0.json")')"
export BRIG_OCSF_SCHEMA

say "OpenTelemetry Python SDK and OTLP/HTTP exporter for the OTLP receiver test (PyPI, pinned, in target/otel-venv)"
otel_version=1.45.2
if ! target/otel-venv/bin/pip show opentelemetry-exporter-otlp-proto-http 2>/dev/null | grep -qx "Version: $otel_version"; then
  command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
  python3 -m venv target/otel-venv
  target/otel-venv/bin/pip install -q --disable-pip-version-check "opentelemetry-sdk==$otel_version" "opentelemetry-exporter-otlp-proto-http==$otel_version"
fi
export BRIG_OTEL_PYTHON="$PWD/target/otel-venv/bin/python"

say "Schemathesis for the API fuzz check (PyPI, pinned, in target/st-venv)"
st_version=4.32.5
if ! target/st-venv/bin/pip show schemathesis 2>/dev/null | grep -qx "Version: $st_version"; then
  python3 -m venv target/st-venv
  target/st-venv/bin/pip install -q --disable-pip-version-check "schemathesis==$st_version"
fi
export BRIG_SCHEMATHESIS="$PWD/target/st-venv/bin/st"

say "PostgreSQL for the second backend (Debian's server; a throwaway cluster on loopback)"
cleanup=()
on_exit() { for c in "${cleanup[@]}"; do eval "$c"; done; }
trap on_exit EXIT
if [ -z "${BRIG_TEST_DATABASE:-}" ]; then
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    echo "installing Debian's postgresql"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  pgdir=$(mktemp -d /tmp/brig-test-pg.XXXXXX)
  as_pg=()
  # The server refuses to run as root: as root, run it as Debian's postgres user.
  if [ "$(id -u)" = 0 ]; then chown postgres "$pgdir"; as_pg=(runuser -u postgres --); fi
  "${as_pg[@]}" "$pgbin/initdb" -D "$pgdir/db" -A trust -U brig >/dev/null
  pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdir/db" -l "$pgdir/server.log" -w \
    -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=400" start >/dev/null
  cleanup+=("\"\${as_pg[@]}\" \"$pgbin/pg_ctl\" -D \"$pgdir/db\" -m fast stop >/dev/null 2>&1 || true; rm -rf \"$pgdir\"")
  export BRIG_TEST_DATABASE="postgres://brig@127.0.0.1:$pgport/postgres"
  echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pgport (stopped when the run ends)"
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "cargo deny check licenses bans sources (cargo-deny pinned, in target/tools; deny.toml)"
# Advisories need the RustSec database from GitHub, which CI cannot reach: see deny.toml.
deny_version=0.20.2
if ! target/tools/bin/cargo-deny --version 2>/dev/null | grep -q " $deny_version\$"; then
  cargo install --locked --quiet "cargo-deny@$deny_version" --root target/tools
fi
PATH="$PWD/target/tools/bin:$PATH" cargo deny --log-level error check licenses bans sources

say "cargo test"
log=$(mktemp)
cleanup+=("rm -f \"$log\"")
cargo test --workspace --locked 2>&1 | tee "$log"

say "the command-line, server and console suites again, on PostgreSQL"
BRIG_TEST_BACKEND=postgresql cargo test -p brig -p brig-server --tests --locked 2>&1 | tee -a "$log"
# One closing line for the whole suite (cargo prints one per test binary, the last of which
# is often an empty doc-test run).
awk '/^test result:/ { p += $4; f += $6 } END { printf "\ntotal: %d passed, %d failed\n", p, f }' "$log"

say "fuzzing: every parser of untrusted input for 30 s each (scripts/fuzz.sh; long runs: --long 3600)"
# Its own build (target/fuzz, about 15 CPU-minutes from clean), cargo-fuzz pinned; a crash, a
# hang or a memory blow-up is a finding. RELIABILITY.md, "Fuzzing", has what it found.
# A finding of this short exploration is a new input, not something the change under test
# broke (every earlier finding is replayed by the fuzz_regressions tests above, which do fail
# the run): it is reported, with the file that reproduces it, and the run goes on. A build
# failure fails the run.
if [ "${CI:-}" = true ]; then
  # A CI machine's disk is not ours to fill: the test build is done with, the fuzz build
  # (about 3 GB) takes its place.
  rm -rf target/debug
fi
fuzz_rc=0
scripts/fuzz.sh --time 30 || fuzz_rc=$?
if [ "$fuzz_rc" = 3 ]; then
  echo "warning: fuzzing found a new failing input (above): save it under the crate's" \
       "tests/fuzz_inputs/ and add it to its fuzz_regressions test" >&2
elif [ "$fuzz_rc" != 0 ]; then
  exit "$fuzz_rc"
fi
