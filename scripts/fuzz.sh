#!/usr/bin/env bash
# Fuzzes every parser of multiflexi-core that takes user input: each target of fuzz/ (cargo-fuzz,
# libFuzzer) runs for SECONDS_PER_TARGET seconds (default 60) on the nightly toolchain. Fails on
# the first crash, hang or leak; the input that caused it is left in fuzz/artifacts/<target>/
# (reproduce with `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>`).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#   FUZZ_TARGETS="cron_parse timezone" scripts/fuzz.sh 30    # only some targets
#   FUZZ_UPDATE_CORPUS=1 scripts/fuzz.sh 600                 # keep what the run found
#
# The committed corpus (fuzz/corpus/<target>/) is never written during a run: each target works
# on a temporary copy of it, which libFuzzer grows and which is deleted at the end. The app JSON
# targets also read ../shared/fixtures/multiflexi/ (real app definitions, never copied into this
# repository) when it exists, read-only: libFuzzer only writes to the first corpus directory,
# the temporary copy. Only with FUZZ_UPDATE_CORPUS=1 are the new inputs that add coverage merged
# back into fuzz/corpus/<target>/ (libFuzzer -merge=1), for a developer to review and commit.
#
# Installs cargo-fuzz (crates.io) when it is missing, and the nightly toolchain (rustup) when
# `rustup toolchain list` lacks it. Prints one summary line per target:
#   fuzz: <target>: <N> executions, corpus <N> inputs, crashes 0, <N> s
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]  (a positive number of seconds, not '$seconds')" >&2
  exit 2
fi

toolchains=$(rustup toolchain list 2>/dev/null || true)
if ! grep -q '^nightly' <<<"$toolchains"; then
  echo "fuzz: installing the nightly toolchain (cargo-fuzz needs it for the sanitizer flags)"
  if ! rustup toolchain install nightly --profile minimal; then
    echo "fuzz: FAILED: could not install the nightly toolchain with rustup" >&2
    exit 1
  fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  if ! cargo install cargo-fuzz --locked; then
    echo "fuzz: FAILED: could not install cargo-fuzz" >&2
    exit 1
  fi
fi

echo "fuzz: rustfmt of the fuzz crate"
cargo fmt --manifest-path fuzz/Cargo.toml --check

all_targets=$(cargo +nightly fuzz list)
targets="${FUZZ_TARGETS:-$all_targets}"
for t in $targets; do
  if ! grep -qx "$t" <<<"$all_targets"; then
    echo "fuzz: no target '$t'; targets: $(echo $all_targets)" >&2
    exit 2
  fi
done

shared_fixtures="../shared/fixtures/multiflexi"
work=$(mktemp -d "${TMPDIR:-/tmp}/multiflexi-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "fuzz: building the targets (cargo +nightly fuzz build, address sanitizer)"
cargo +nightly fuzz build

summary=()
total_execs=0
for t in $targets; do
  corpus="$work/corpus/$t"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  cp -R "fuzz/corpus/$t/." "$corpus/"
  extra=()
  if [[ "$t" == app_json_* && -d "$shared_fixtures" ]]; then
    extra+=("$shared_fixtures")
  fi
  log="$work/$t.log"
  marker="$work/$t.start"
  touch "$marker"
  echo "=== fuzz $t for $seconds s (corpus: fuzz/corpus/$t${extra:+ + ${extra[*]}})"
  start=$(date +%s)
  status=0
  # -timeout: one input running longer than 30 s is a hang and fails the run.
  cargo +nightly fuzz run "$t" "$corpus" "${extra[@]}" -- \
    -max_total_time="$seconds" -timeout=30 -print_final_stats=1 >"$log" 2>&1 || status=$?
  took=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  units=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
  crashes=$(find "fuzz/artifacts/$t" -type f -newer "$marker" | wc -l)
  if [[ $status -ne 0 && $crashes -eq 0 ]]; then
    crashes=1
  fi
  line="fuzz: $t: ${execs:-?} executions, corpus ${units:-?} inputs, crashes $crashes, $took s"
  echo "$line"
  summary+=("$line")
  if [[ $status -ne 0 || $crashes -ne 0 || -z "$execs" ]]; then
    echo "--- what failed in $t (exit status $status):" >&2
    grep -E -A 4 "panicked at|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|^SUMMARY:" "$log" >&2 || true
    echo "--- last lines of the libFuzzer log of $t:" >&2
    tail -n 40 "$log" >&2
    find "fuzz/artifacts/$t" -type f -newer "$marker" -exec echo "fuzz: input kept: {}" \; >&2
    echo "fuzz: FAILED: target $t" >&2
    exit 1
  fi
  total_execs=$(( total_execs + execs ))
  if [[ "${FUZZ_UPDATE_CORPUS:-0}" == 1 ]]; then
    echo "fuzz: merging new inputs of $t into fuzz/corpus/$t (FUZZ_UPDATE_CORPUS=1)"
    cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "$corpus" -- -merge=1 >"$log.merge" 2>&1 || {
      tail -n 30 "$log.merge" >&2
      echo "fuzz: FAILED: merging the corpus of $t" >&2
      exit 1
    }
  fi
done

echo "=== fuzz summary ($seconds s per target)"
printf '%s\n' "${summary[@]}"
echo "fuzz: $(wc -w <<<"$targets") targets, $total_execs executions, 0 crashes"
