#!/usr/bin/env bash
# ferry's test command (CI runs it through .ci/run):
#
#   1. unit + doc tests          cargo test --workspace --no-fail-fast
#   2. integration build         cargo test -p ferry --features kafka-integration-tests --test '*' --no-run
#   3. real brokers              scripts/kafka-rig.sh start, scripts/secure-rig.sh start (TLS, SASL,
#                                ACLs; Apache Kafka in both modes), stopped again on exit
#   4. integration tests         cargo test ... --test '*' -- --test-threads=2
#   5. loadtest scenario         cargo test -p ferry-loadtest --features kafka-integration-tests --test short_scenario
#
# FERRY_BROKER=tansu runs step 4 against Tansu instead of Apache Kafka.
# Knobs: FERRY_TEST_SKIP_UNIT=1, FERRY_TEST_SKIP_INTEGRATION=1, FERRY_TEST_THREADS
# (default 2), FERRY_TEST_STEP_TIMEOUT (seconds per cargo step, default 2400),
# FERRY_TEST_ARGS (extra libtest args for step 4, e.g. a test-name filter).
# Exits with the exit code of the first step that failed.
set -uo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
RIG_SH="$SCRIPT_DIR/kafka-rig.sh"
SECURE_SH="$SCRIPT_DIR/secure-rig.sh"
RIG="$REPO/.rig"
BROKER="${FERRY_BROKER:-kafka}"
THREADS="${FERRY_TEST_THREADS:-2}"
STEP_TIMEOUT="${FERRY_TEST_STEP_TIMEOUT:-2400}"
cd "$REPO"

say() { printf '\n\033[1m[test.sh] %s\033[0m\n' "$*"; }
[[ -t 1 ]] || say() { printf '\n[test.sh] %s\n' "$*"; }

SUMMARY=()
FIRST_RC=0
T_ALL=$SECONDS

record() { # record <name> <rc> <seconds> [note]
    local status=ok
    if [[ "$2" == skip ]]; then
        status=SKIPPED
    elif [[ "$2" != 0 ]]; then
        status="FAILED (exit $2)"
        [[ $FIRST_RC == 0 ]] && FIRST_RC=$2
    fi
    SUMMARY+=("$(printf '  %-34s %-16s %5ss  %s' "$1" "$status" "$3" "${4:-}")")
}

# run_step <name> <command...>: runs it in its own process group with a time
# limit (so that a hung test binary, too, is killed on time-out or Ctrl-C) and
# records the outcome.
STEP_PID=""
STEP_NAME=""
STEP_T0=0
WATCHDOG_PID=""
run_step() {
    local name="$1" t0=$SECONDS rc marker="${TMPDIR:-/tmp}/ferry-test-timeout.$$"
    shift
    say "$name: $*"
    STEP_NAME="$name"
    STEP_T0=$SECONDS
    rm -f "$marker"
    setsid "$@" &
    STEP_PID=$!
    setsid bash -c 'sleep "$1"; touch "$3"; kill -TERM -- "-$2"; sleep 30; kill -KILL -- "-$2"' \
        _ "$STEP_TIMEOUT" "$STEP_PID" "$marker" >/dev/null 2>&1 &
    WATCHDOG_PID=$!
    wait "$STEP_PID"
    rc=$?
    STEP_PID=""
    kill -- "-$WATCHDOG_PID" 2>/dev/null
    wait "$WATCHDOG_PID" 2>/dev/null
    WATCHDOG_PID=""
    if [[ -f "$marker" ]]; then
        rm -f "$marker"
        echo "[test.sh] $name timed out after ${STEP_TIMEOUT}s (FERRY_TEST_STEP_TIMEOUT)" >&2
        rc=124
    fi
    record "$name" "$rc" $((SECONDS - t0))
    return $rc
}

print_summary() {
    say "summary (broker: $BROKER, total $((SECONDS - T_ALL))s)"
    local line
    for line in "${SUMMARY[@]}"; do
        echo "$line"
    done
    if [[ $FIRST_RC == 0 ]]; then
        echo "[test.sh] all steps succeeded"
    else
        echo "[test.sh] FAILED: exit code $FIRST_RC"
    fi
}

RIG_STARTED=""
SECURE_STARTED=""
PREP_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    local pid
    [[ -n "$STEP_PID" ]] && record "$STEP_NAME" "$rc" $((SECONDS - STEP_T0)) "interrupted"
    for pid in "$STEP_PID" "$WATCHDOG_PID" "$PREP_PID"; do
        # each runs in its own process group (setsid): end the whole group
        [[ -n "$pid" ]] && kill -TERM -- "-$pid" 2>/dev/null
    done
    for pid in "$STEP_PID" "$WATCHDOG_PID" "$PREP_PID"; do
        [[ -n "$pid" ]] && wait "$pid" 2>/dev/null
    done
    if [[ -n "$RIG_STARTED" ]]; then
        say "stopping the brokers"
        bash "$RIG_SH" stop || true
    fi
    if [[ -n "$SECURE_STARTED" ]]; then
        bash "$SECURE_SH" stop || true
    fi
    [[ $FIRST_RC == 0 && $rc != 0 ]] && FIRST_RC=$rc
    print_summary
    exit "$FIRST_RC"
}
trap cleanup EXIT
trap 'echo "[test.sh] interrupted" >&2; FIRST_RC=130; exit 130' INT
trap 'echo "[test.sh] terminated" >&2; FIRST_RC=143; exit 143' TERM

# ---------------------------------------------------------------------------
# prerequisites
# ---------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
missing=()
for tool in cargo python3 setsid flock; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [[ "$BROKER" == kafka ]]; then
    for tool in java mvn; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
fi
if ((${#missing[@]} > 0)); then
    echo "[test.sh] ERROR: missing on PATH: ${missing[*]}" >&2
    echo "[test.sh]   cargo: https://rustup.rs; java/mvn: apt-get install openjdk-17-jdk-headless maven;" >&2
    echo "[test.sh]   python3: apt-get install python3 python3-venv" >&2
    FIRST_RC=127
    exit 127
fi
# rdkafka's "ssl" feature builds against the system OpenSSL.
if ! pkg-config --exists openssl 2>/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
        say "OpenSSL headers or pkg-config missing: apt-get install libssl-dev pkg-config"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libssl-dev pkg-config; } ||
            echo "[test.sh] warning: apt-get install failed; the rdkafka build may fail" >&2
    else
        echo "[test.sh] warning: pkg-config cannot find openssl; install libssl-dev and pkg-config" >&2
    fi
fi
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

HAVE_IT_TESTS=""
compgen -G "$REPO/actors/tests/*.rs" >/dev/null && HAVE_IT_TESTS=1
WANT_IT=""
[[ -z "${FERRY_TEST_SKIP_INTEGRATION:-}" && -n "$HAVE_IT_TESTS" ]] && WANT_IT=1

# Fetch Kafka (and Tansu) in the background while cargo compiles.
if [[ -n "$WANT_IT" ]]; then
    mkdir -p "$RIG"
    FERRY_BROKER="$BROKER" setsid bash "$RIG_SH" prepare >"$RIG/prepare.log" 2>&1 &
    PREP_PID=$!
fi

# ---------------------------------------------------------------------------
# 1. unit and doc tests
# ---------------------------------------------------------------------------
if [[ -z "${FERRY_TEST_SKIP_UNIT:-}" ]]; then
    run_step "unit + doc tests" cargo test --workspace --no-fail-fast
else
    record "unit + doc tests" skip 0 "FERRY_TEST_SKIP_UNIT"
fi

# ---------------------------------------------------------------------------
# 2-4. integration tests against real brokers
# ---------------------------------------------------------------------------
IT_NAME="integration tests ($BROKER)"
IT_CARGO=(cargo test -p ferry --features kafka-integration-tests --no-fail-fast --test '*')
if [[ -n "${FERRY_TEST_SKIP_INTEGRATION:-}" ]]; then
    record "$IT_NAME" skip 0 "FERRY_TEST_SKIP_INTEGRATION"
elif [[ -z "$HAVE_IT_TESTS" ]]; then
    echo "[test.sh] warning: no actors/tests/*.rs, so no integration tests to run" >&2
    record "$IT_NAME" skip 0 "no actors/tests/*.rs"
elif run_step "integration build" "${IT_CARGO[@]}" --no-run; then
    t0=$SECONDS
    rc=0
    wait "$PREP_PID" || rc=$?
    PREP_PID=""
    if [[ $rc != 0 ]]; then
        cat "$RIG/prepare.log" >&2
    else
        say "starting the $BROKER test brokers and the secured Kafka broker"
        RIG_STARTED=1
        SECURE_STARTED=1
        # The secured broker (actors/tests/security.rs) starts alongside; its tests would start it
        # themselves, this only saves time.
        bash "$SECURE_SH" start >"$RIG/secure-start.log" 2>&1 &
        secure_pid=$!
        FERRY_BROKER="$BROKER" bash "$RIG_SH" start || rc=$?
        if ! wait "$secure_pid"; then
            echo "[test.sh] warning: the secured broker did not start (the security tests will try again):" >&2
            tail -n 30 "$RIG/secure-start.log" >&2
        fi
    fi
    record "start $BROKER brokers" "$rc" $((SECONDS - t0))
    if [[ $rc == 0 ]]; then
        set -a
        # shellcheck source=/dev/null
        source "$RIG/env"
        set +a
        # shellcheck disable=SC2086
        if ! run_step "$IT_NAME" "${IT_CARGO[@]}" -- --test-threads="$THREADS" ${FERRY_TEST_ARGS:-}; then
            for name in src dst; do
                log="$RIG/clusters/$name/server.log"
                [[ -f "$log" ]] || continue
                say "last lines of the $name broker's log ($log)"
                tail -n 40 "$log"
            done
        fi
        # Fault injection (kill -9 cycles, broker outages) under load: alone, after the other tests,
        # because an outage disturbs every client of the rig.
        run_step "loadtest short scenario ($BROKER)" \
            cargo test -p ferry-loadtest --features kafka-integration-tests --no-fail-fast --test short_scenario
    else
        record "$IT_NAME" skip 0 "brokers did not start"
    fi
fi
# the EXIT trap stops the brokers, prints the summary and exits with FIRST_RC
