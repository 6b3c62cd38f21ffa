#!/usr/bin/env bash
# Fuzzing (cargo fuzz / libFuzzer) of Skillport's parsers: marketplace.json, plugin.json, SKILL.md frontmatter, MCP
# JSON-RPC over /mcp, OAuth request parameters, and archive extraction. The fuzz crate is tests/fuzz (its own
# workspace); see tests/fuzz/README.md.
#
#   bash scripts/fuzz.sh --short [TARGET...]        each target for FUZZ_SECONDS (default 20) seconds: the test mode
#   bash scripts/fuzz.sh --long [RUNS] [TARGET...]  each target for RUNS executions (default 10,000,000)
#   bash scripts/fuzz.sh --regressions [TARGET...]  only replay tests/fuzz/regressions/<target>/ (no fuzzing)
#   bash scripts/fuzz.sh --minimize [TARGET...]     merge what fuzzing found (tests/fuzz/corpus-work) into the
#                                                    committed corpus (tests/fuzz/corpus), minimised (cmin: the
#                                                    fewest inputs that keep every coverage edge)
#   bash scripts/fuzz.sh --seed [TARGET...]         regenerate the seed inputs (tests/fuzz/seeds.py), then --minimize
#
# Every mode but --minimize first replays tests/fuzz/regressions/<target>/ (inputs that once crashed). It exits non-zero when any
# target crashes, times out or runs out of memory, and prints the path of the input that did (under
# tests/fuzz/artifacts/<target>/); replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz -s none -a <target> <path>
#
# Stable Rust: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags. cargo-fuzz is installed (pinned) when missing.
# Environment: FUZZ_SECONDS (short mode), FUZZ_SANITIZER (none | address; default none: the code is safe Rust and
# the sanitizer halves throughput), FUZZ_TIMEOUT (seconds one input may take; default 10), FUZZ_RSS_MB (default
# 2048), FUZZ_CODEGEN_UNITS (default 16).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ -f scripts/env.sh ] && . scripts/env.sh
export RUSTC_BOOTSTRAP=1
export PATH="$HOME/.cargo/bin:$PATH"

FUZZ_DIR=tests/fuzz
CARGO_FUZZ_VERSION=0.13.2
ALL_TARGETS=(marketplace_json plugin_json skill_frontmatter jsonrpc oauth_params archive)
SECONDS_PER_TARGET=${FUZZ_SECONDS:-20}
SANITIZER=${FUZZ_SANITIZER:-none}
TIMEOUT=${FUZZ_TIMEOUT:-10}
RSS_MB=${FUZZ_RSS_MB:-2048}
# 16 rebuilds the instrumented crates about 2.5x faster than cargo-fuzz's default of 1, for ~20% fewer exec/s: the
# right trade while the test command rebuilds after every change. Changing it rebuilds everything once.
CODEGEN_UNITS=${FUZZ_CODEGEN_UNITS:-16}

log() { printf '[fuzz] %s\n' "$*"; }
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

mode=${1:-}
[ -n "$mode" ] || usage
shift
runs=10000000
if [ "$mode" = --long ] && [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
  runs=$1
  shift
fi
case "$mode" in
  --short | --long | --regressions | --minimize | --seed) ;;
  -h | --help) usage ;;
  *) echo "unknown mode $mode" >&2; usage ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  [ -f "$FUZZ_DIR/fuzz_targets/$t.rs" ] || { echo "no fuzz target $t (have: ${ALL_TARGETS[*]})" >&2; exit 2; }
done

# 1. cargo-fuzz, once.
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION (about 2 minutes, once)"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# 2. Build every target once (incremental after the first time: the first build takes several minutes).
build_flags=(--fuzz-dir "$FUZZ_DIR" -s "$SANITIZER" -a --codegen-units "$CODEGEN_UNITS")
b0=$(date +%s)
mkdir -p "$FUZZ_DIR/target"
log "building fuzz targets (sanitizer: $SANITIZER, debug assertions on)"
if ! cargo fuzz build "${build_flags[@]}" >"$FUZZ_DIR/target/build.log" 2>&1; then
  grep -vE '^\s+(Compiling|Checking|Downloaded|Downloading) ' "$FUZZ_DIR/target/build.log" | tail -40
  log "BUILD FAILED (full log: $FUZZ_DIR/target/build.log)"
  exit 1
fi
log "built in $(( $(date +%s) - b0 )) s"

if [ "$mode" = --seed ]; then
  python3 "$FUZZ_DIR/seeds.py" "${targets[@]}"
  mode=--minimize
fi

# The targets run straight from the binaries just built: `cargo fuzz run` would rebuild first, and a source tree
# edited meanwhile would then be fuzzed half old, half new (and pay a rebuild per target).
HOST=$(rustc -vV | sed -n 's/^host: //p')
BIN_DIR="$FUZZ_DIR/target/$HOST/release"
LOGS="$FUZZ_DIR/target/fuzz-logs"
mkdir -p "$LOGS"
failed=()
summary=()

# Runs one target's binary with libFuzzer arguments (`--` separators are dropped), logging to
# $LOGS/<target>.<what>.log. On a crash, hang or OOM, says where the input is and records the failure.
fuzz() {
  local target=$1 what=$2
  shift 2
  local logfile="$LOGS/$target.$what.log"
  mkdir -p "$FUZZ_DIR/artifacts/$target"
  local status=0
  [ "${1:-}" = -- ] && shift
  local args=()
  for a in "$@"; do [ "$a" = -- ] || args+=("$a"); done
  "$BIN_DIR/$target" "-artifact_prefix=$FUZZ_DIR/artifacts/$target/" "${args[@]}" </dev/null >"$logfile" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    local artifact
    artifact=$(grep -aoE 'Test unit written to [^ ]+' "$logfile" | awk '{print $NF}' | tail -1)
    log "FAILED: $target ($what), exit $status; full log: $logfile"
    grep -aE "ERROR: libFuzzer|SUMMARY|Deadly|timeout|out-of-memory|malloc" "$logfile" | head -4 | sed 's/^/    /'
    grep -aA1 "panicked at" "$logfile" | head -2 | cat -v | sed 's/^/    /'
    if [ -n "$artifact" ]; then
      log "crash input: $artifact"
      log "replay: RUSTC_BOOTSTRAP=1 cargo fuzz run ${build_flags[*]} $target $artifact"
    fi
    failed+=("$target ($what)${artifact:+: $artifact}")
    return 1
  fi
  return 0
}

stat_of() { grep -aoE "stat::$2: *[0-9]+" "$1" | awk '{print $NF}' | tail -1; }

for t in "${targets[@]}"; do
  corpus="$FUZZ_DIR/corpus/$t"
  work="$FUZZ_DIR/corpus-work/$t"
  regressions="$FUZZ_DIR/regressions/$t"
  mkdir -p "$corpus" "$work"
  dict=()
  [ -f "$FUZZ_DIR/dicts/$t.dict" ] && dict=("-dict=$FUZZ_DIR/dicts/$t.dict")
  limits=("-timeout=$TIMEOUT" "-rss_limit_mb=$RSS_MB")

  # Regression inputs first: each must now run clean (not needed to merge a corpus).
  if [ "$mode" != --minimize ] && [ -d "$regressions" ] && [ -n "$(ls -A "$regressions" 2>/dev/null)" ]; then
    n=0 bad=0
    while IFS= read -r input; do
      n=$((n + 1))
      if ! fuzz "$t" "regression-$(basename "$input")" "$input" -- "${limits[@]}"; then
        bad=$((bad + 1))
        log "regression input that fails: $input"
      fi
    done < <(find "$regressions" -type f | sort)
    if [ "$bad" -gt 0 ]; then
      log "$t: $bad of $n regression input(s) FAIL; not fuzzing $t until they pass"
      continue
    fi
    log "$t: $n regression input(s) pass"
  fi

  case "$mode" in
    --regressions) continue ;;
    --minimize)
      merged="$FUZZ_DIR/target/cmin/$t"
      rm -rf "$merged" && mkdir -p "$merged"
      before=$(find "$corpus" -type f | wc -l)
      if fuzz "$t" cmin "$merged" "$corpus" "$work" -- -set_cover_merge=1 -use_counters=0 "${limits[@]}"; then
        rm -rf "$corpus" && mkdir -p "$corpus" && cp "$merged"/* "$corpus"/ 2>/dev/null || true
        after=$(find "$corpus" -type f | wc -l)
        size=$(( $(du -sb "$corpus" | cut -f1) / 1024 ))
        log "$t: corpus minimised (set cover): $before committed + work -> $after inputs, ${size} KiB"
      fi
      continue
      ;;
    --short) budget=("-max_total_time=$SECONDS_PER_TARGET") what=short ;;
    --long) budget=("-runs=$runs") what=long ;;
  esac

  t0=$(date +%s)
  # New inputs go to the first (uncommitted) directory; the committed corpus and the regressions only seed it.
  dirs=("$work" "$corpus")
  [ -d "$regressions" ] && dirs+=("$regressions")
  if fuzz "$t" "$what" "${dirs[@]}" -- "${budget[@]}" "${dict[@]}" "${limits[@]}" -print_final_stats=1; then
    logfile="$LOGS/$t.$what.log"
    execs=$(stat_of "$logfile" number_of_executed_units)
    rate=$(stat_of "$logfile" average_exec_per_sec)
    rss=$(stat_of "$logfile" peak_rss_mb)
    cov=$(grep -aoE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$logfile" | tail -1)
    line=$(printf '%-18s ok  %10s runs  %7s exec/s  %4s s  %s  rss %s MB' "$t" "${execs:-?}" "${rate:-?}" \
      "$(( $(date +%s) - t0 ))" "${cov:-}" "${rss:-?}")
    log "$line"
    summary+=("$line")
  fi
done

if [ ${#summary[@]} -gt 0 ]; then
  log "summary:"
  printf '    %s\n' "${summary[@]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
  failed_targets=$(printf '%s\n' "${failed[@]}" | cut -d' ' -f1 | sort -u | wc -l)
  log "$failed_targets target(s) FAILED (${#failed[@]} failure(s)):"
  printf '    %s\n' "${failed[@]}"
  echo "fuzz: ${#summary[@]} passed, $failed_targets failed"
  exit 1
fi
[ "$mode" = --short ] || [ "$mode" = --long ] && echo "fuzz: ${#summary[@]} passed, 0 failed"
exit 0
