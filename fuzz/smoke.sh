#!/usr/bin/env bash
# A short fuzzing run of every target: CI's smoke test. Seeds come from the
# Sisimai corpus when ../shared is present (read-only; new inputs go to a
# temporary directory). Usage: fuzz/smoke.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
seeds=../../shared/corpus/sisimai/emails
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -d "$seeds" ]; then
  # CI runs beside ../shared: fuzzing from empty seeds there would hide that.
  if [ "${CI:-}" = true ]; then echo "fuzz seeds not found at fuzz/$seeds (CI=true)"; exit 1; fi
  echo "note: no seeds at fuzz/$seeds; fuzzing from empty inputs"
fi
# Records (logs, webhook payloads) are seeded with the corpus's ESP payloads,
# each behind a format byte of 0 (detect the format).
json_seeds=../../shared/corpus/sisimai-extra/esp-json
for target in decode_message classify_reply mbox_split event_reader; do
  mkdir -p "$work/$target"
  extra=()
  if [ "$target" = event_reader ]; then
    if [ -d "$json_seeds" ]; then
      mkdir -p "$work/event_reader.seeds"
      for f in "$json_seeds"/*; do
        { printf '\0'; cat "$f"; } >"$work/event_reader.seeds/$(basename "$f")"
      done
      extra+=("$work/event_reader.seeds")
    fi
  elif [ -d "$seeds" ]; then
    extra+=("$seeds")
  fi
  echo "== fuzz $target for ${seconds}s"
  # The project builds on the stable toolchain; cargo-fuzz needs nightly
  # flags, which RUSTC_BOOTSTRAP allows.
  log="$work/$target.log"
  if ! RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$target" "$work/$target" "${extra[@]}" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
    -print_final_stats=1 >"$log" 2>&1; then
    echo "fuzz target $target failed:"
    grep -v '^#' "$log" | tail -60
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units)' "$log" || tail -5 "$log"
done
