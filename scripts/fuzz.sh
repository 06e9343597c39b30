#!/usr/bin/env bash
# Builds the fuzz targets (fuzz/, cargo-fuzz + libFuzzer) and runs each for a bounded time,
# starting from the committed seeds (fuzz/corpus/TARGET) plus what earlier runs here found
# (target/fuzz/corpus/TARGET). Prints per target: executions, coverage, corpus, findings.
# A finding (a crash, a timeout of one input over 10 s, an input using over 2 GB) is saved under
# target/fuzz/artifacts/TARGET/ and fails the run; turn it into a regression test (RELIABILITY.md).
#
# Usage: scripts/fuzz.sh                  every target, 30 s each (the CI step: scripts/test.sh)
#        scripts/fuzz.sh --time 300 shell_command otlp_json   some targets, 5 min each
#        scripts/fuzz.sh --long 3600      every target for an hour each (a long run)
#        scripts/fuzz.sh --asan ...       with AddressSanitizer (needs a nightly toolchain;
#                                         mostly useful for the C code under zstd and tar input)
#        scripts/fuzz.sh --list           the targets
# Works on stable Rust: without --asan no sanitizer flag needs nightly. cargo-fuzz is installed
# (pinned) into target/tools when missing. Builds go to target/fuzz (about 3 GB).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo_fuzz_version=0.13.2
secs=30
asan=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --time | --long) secs=$2; shift 2 ;;
    --asan) asan=1; shift ;;
    --list) ls fuzz/fuzz_targets | sed 's/\.rs$//'; exit 0 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')

tools="$PWD/target/tools"
export PATH="$tools/bin:$PATH"
if ! cargo fuzz --version 2>/dev/null | grep -q " $cargo_fuzz_version\$"; then
  echo "installing cargo-fuzz $cargo_fuzz_version into target/tools"
  cargo install --locked --quiet "cargo-fuzz@$cargo_fuzz_version" --root "$tools"
fi

target_dir="$PWD/target/fuzz"
triple=$(rustc -vV | sed -n 's/^host: //p')
if [ "$asan" = 1 ]; then
  rustup toolchain list | grep -q '^nightly' ||
    { echo "--asan needs a nightly toolchain (rustup toolchain install nightly)" >&2; exit 2; }
  build=(cargo +nightly fuzz build --sanitizer address)
  target_dir="$PWD/target/fuzz-asan"
else
  build=(cargo fuzz build --sanitizer none)
fi

echo "==> building ${#targets[@]} fuzz target(s) (${build[*]})"
start=$(date +%s)
# cargo fuzz build takes one target or all: all when several are asked for.
one=()
[ ${#targets[@]} = 1 ] && one=("${targets[0]}")
mkdir -p target/fuzz/logs
if ! (cd fuzz && "${build[@]}" --debug-assertions --target-dir "$target_dir" "${one[@]}") \
  >target/fuzz/logs/build.log 2>&1; then
  grep -E -A8 '^error' target/fuzz/logs/build.log | head -n 40 >&2
  echo "the fuzz build failed (target/fuzz/logs/build.log)" >&2
  exit 1
fi
echo "    built in $(($(date +%s) - start)) s"

failed=0
printf '\n%-16s %10s %8s %8s %7s %9s\n' target executions exec/s cov corpus findings
for t in "${targets[@]}"; do
  work="target/fuzz/corpus/$t" artifacts="target/fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  log="target/fuzz/logs/$t.log"
  before=$(find "$artifacts" -type f | wc -l)
  set +e
  "$target_dir/$triple/release/$t" "$work" "fuzz/corpus/$t" \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  found=$(($(find "$artifacts" -type f | wc -l) - before))
  printf '%-16s %10s %8s %8s %7s %9s\n' "$t" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${corp:-?}" "$found"
  if [ "$rc" != 0 ] || [ "$found" != 0 ]; then
    failed=3
    echo "    FINDING in $t (exit $rc); log: $log" >&2
    grep -E "panicked|ERROR|SUMMARY|Test unit written" "$log" | head -n 8 | sed 's/^/    /' >&2
    echo "    reproduce: $target_dir/$triple/release/$t ARTIFACT" >&2
  fi
done
# Exit 3: a finding (1: the build or the tools failed).
exit "$failed"
