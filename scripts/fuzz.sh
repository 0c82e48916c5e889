#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time and records the
# results in fuzz/RESULTS.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60 (env FUZZ_SECONDS works too); with no
# TARGET every target runs. Only a stable toolchain is needed:
# RUSTC_BOOTSTRAP=1 lets it accept the sanitizer flags cargo-fuzz passes.
# Crashes are kept in fuzz/artifacts/<target>/; corpora grow in
# fuzz/corpus/<target>/ (both ignored by git) from the committed seeds in
# fuzz/seeds/<target>/. FUZZ_SANITIZER (default
# address; "none" runs about twice as fast) goes to `cargo fuzz --sanitizer`.
# Exits 1 if any target crashed.
set -euo pipefail

cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1

seconds="${1:-${FUZZ_SECONDS:-60}}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
sanitizer="${FUZZ_SANITIZER:-address}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz..." >&2
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

logs="fuzz/target/logs"
mkdir -p "$logs"
echo "building ${#targets[@]} targets (sanitizer: $sanitizer)..." >&2
: >"$logs/build.log"
for t in "${targets[@]}"; do
    if ! cargo fuzz build --sanitizer "$sanitizer" "$t" >>"$logs/build.log" 2>&1; then
        tail -n 40 "$logs/build.log" >&2
        exit 1
    fi
done

# The last "#N ... exec/s" status line libFuzzer printed.
last_stat() {
    grep -E '^#[0-9]+' "$1" | tail -n 1
}

rows=()
failed=0
for t in "${targets[@]}"; do
    log="$logs/$t.log"
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    echo "fuzzing $t for ${seconds}s..." >&2
    status=0
    corpora=("$PWD/fuzz/corpus/$t")
    if [ -d "fuzz/seeds/$t" ]; then
        corpora+=("$PWD/fuzz/seeds/$t")
    fi
    cargo fuzz run --sanitizer "$sanitizer" "$t" "${corpora[@]}" -- \
        -max_total_time="$seconds" \
        -print_final_stats=1 -rss_limit_mb=2048 -timeout=10 \
        >"$log" 2>&1 || status=$?
    execs=$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -n 1)
    if [ -z "$execs" ]; then
        # Killed before its final stats: the last status line.
        execs=$(last_stat "$log" | sed -E 's/^#([0-9]+).*/\1/')
    fi
    execs=${execs:-0}
    rate=$(( execs / seconds ))
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    after=$(find "fuzz/artifacts/$t" -type f | wc -l)
    crashes=$(( after - before ))
    if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes="error (exit $status, see $log)"
        failed=1
    elif [ "$crashes" -gt 0 ]; then
        failed=1
    fi
    rows+=("| \`$t\` | ${seconds} s | $execs | $rate | $corpus | $crashes |")
done

{
    echo "# Fuzzing results"
    echo
    echo "\`scripts/fuzz.sh $seconds\` on $(date -u +%Y-%m-%d), $(rustc --version | cut -d' ' -f1-2)," \
        "$(cargo fuzz --version 2>/dev/null), sanitizer: $sanitizer, $(nproc) cores."
    echo
    echo "| target | time | executions | exec/s | corpus | new crashes |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    printf '%s\n' "${rows[@]}"
} >"$logs/RESULTS.md"

# Only a run of every target replaces the recorded table.
if [ "$#" -eq 0 ]; then
    cp "$logs/RESULTS.md" fuzz/RESULTS.md
    echo "written to fuzz/RESULTS.md" >&2
fi
tail -n +5 "$logs/RESULTS.md"
exit "$failed"
