#!/usr/bin/env bash
# ferry's secured test broker: one single-node Apache Kafka (KRaft) with TLS,
# SASL/SCRAM and ACLs, for the security tests in actors/tests/security*.rs.
#
#   scripts/secure-rig.sh start     generate certificates and passwords, format the
#                                   storage with SCRAM users, (re)start the broker,
#                                   write .rig/secure/env and print it
#   scripts/secure-rig.sh ensure    start unless it already runs (what the tests call)
#   scripts/secure-rig.sh stop      stop it, remove its data
#   scripts/secure-rig.sh status    tell whether it runs
#   scripts/secure-rig.sh env       print .rig/secure/env
#   scripts/secure-rig.sh acls ARGS...
#                                   run Kafka's AclCommand against it as a super user,
#                                   e.g. acls --add --allow-principal User:ferry --operation Read --topic t
#
# Listeners (all on 127.0.0.1, free ports):
#   SECURE    SASL_SSL, SCRAM-SHA-256/512 and PLAIN, client certificate required;
#             certificate for IP 127.0.0.1 and DNS localhost, signed by the rig's CA
#   MISMATCH  the same, but its certificate names another host (hostname checks)
#   INTERNAL  PLAINTEXT, for the tests' own set-up (its anonymous user is a super user)
# Users (SCRAM-SHA-256 and -512, created at format time; PLAIN too): `admin` (super
# user) and `ferry` (no rights until ACLs grant them). StandardAuthorizer, no
# access without an ACL. Jars come from scripts/kafka-rig.sh fetch; everything
# generated lives in $REPO/.rig/secure/ (git-ignored). Needs java, mvn (first
# fetch), openssl, python3, setsid, flock.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
RIG="$REPO/.rig"
DIR="$RIG/secure"
CERTS="$DIR/certs"
ENV_FILE="$DIR/env"
KAFKA_LIBS="$RIG/kafka/libs"
LOG4J_CONF="$SCRIPT_DIR/rig/log4j2.properties"
HEAP="${FERRY_SECURE_RIG_HEAP:-384m}"
START_TIMEOUT="${FERRY_RIG_START_TIMEOUT:-120}"

log() { printf '[secure-rig] %s\n' "$*" >&2; }
die() { printf '[secure-rig] ERROR: %s\n' "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH; $2"; }

# A random password (letters and digits: safe in JAAS lines and properties files).
password() { python3 -c 'import secrets, string; print("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(24)))'; }

free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
}

# True if PID is alive and was started by this rig (its command line names $DIR).
owned_pid() {
    local pid="$1"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR"
}

running() { owned_pid "$(cat "$DIR/pid" 2>/dev/null || true)" && [[ -f "$ENV_FILE" ]]; }

tool_java() {
    java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$LOG4J_CONF" -Dferry.rig.log.level=WARN -Dferry.rig.log.target=SYSTEM_ERR \
        -cp "$KAFKA_LIBS/*" "$@"
}

# --------------------------------------------------------------------------
# Certificates: a CA, the broker's certificate (right and wrong host names),
# ferry's client certificate (PEM key store and PKCS12), and a CA nobody trusts.
# --------------------------------------------------------------------------

issue() { # issue <name> <CN> <subjectAltName or ""> <ca prefix>
    local name="$1" cn="$2" san="$3" ca="$4" ext="$CERTS/$1.ext"
    openssl req -new -newkey rsa:2048 -nodes -keyout "$CERTS/$name.key" -out "$CERTS/$name.csr" -subj "/CN=$cn" 2>/dev/null
    : >"$ext"
    [[ -n "$san" ]] && echo "subjectAltName=$san" >"$ext"
    openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/$ca.pem" -CAkey "$CERTS/$ca.key" -CAcreateserial \
        -out "$CERTS/$name.pem" -days 30 -sha256 -extfile "$ext" 2>/dev/null
    # Kafka's PEM key stores want an encrypted PKCS#8 key followed by the certificate chain
    # (PBES1: Java 17 has no PBES2 key factory).
    openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in "$CERTS/$name.key" -out "$CERTS/$name.enc.key" -passout "pass:$KEY_PASSWORD"
    cat "$CERTS/$name.enc.key" "$CERTS/$name.pem" >"$CERTS/$name-keystore.pem"
}

make_certs() {
    rm -rf "$CERTS"
    mkdir -p "$CERTS"
    chmod 700 "$CERTS"
    local ca
    for ca in ca other-ca; do
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CERTS/$ca.key" -out "$CERTS/$ca.pem" -days 30 \
            -subj "/CN=ferry test $ca" 2>/dev/null
    done
    issue broker localhost "IP:127.0.0.1,DNS:localhost" ca
    issue mismatch wrong-host.invalid "DNS:wrong-host.invalid" ca
    issue client ferry "" ca
    openssl pkcs12 -export -in "$CERTS/client.pem" -inkey "$CERTS/client.key" -out "$CERTS/client.p12" \
        -passout "pass:$STORE_PASSWORD"
}

# --------------------------------------------------------------------------
# start / stop
# --------------------------------------------------------------------------

write_config() {
    local secure="$1" mismatch="$2" internal="$3" controller="$4"
    cat >"$DIR/server.properties" <<EOF
# generated by scripts/secure-rig.sh: one broker+controller with TLS, SASL and ACLs
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=SECURE://127.0.0.1:$secure,MISMATCH://127.0.0.1:$mismatch,INTERNAL://127.0.0.1:$internal,CONTROLLER://127.0.0.1:$controller
advertised.listeners=SECURE://127.0.0.1:$secure,MISMATCH://127.0.0.1:$mismatch,INTERNAL://127.0.0.1:$internal
listener.security.protocol.map=SECURE:SASL_SSL,MISMATCH:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
log.dirs=$DIR/data

sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
listener.name.secure.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="$ADMIN_PASSWORD" user_ferry="$FERRY_PASSWORD";
listener.name.mismatch.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="$ADMIN_PASSWORD" user_ferry="$FERRY_PASSWORD";
listener.name.secure.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.secure.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.mismatch.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.mismatch.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$CERTS/broker-keystore.pem
ssl.key.password=$KEY_PASSWORD
listener.name.mismatch.ssl.keystore.location=$CERTS/mismatch-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$CERTS/ca.pem
ssl.client.auth=required

authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
# admin over SASL; the PLAINTEXT listeners (tests' set-up, controller) are anonymous
super.users=User:admin;User:ANONYMOUS

auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
EOF
    chmod 600 "$DIR/server.properties"
}

cluster_id() {
    python3 -c '
import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break'
}

# Waits until the INTERNAL listener answers a Kafka Metadata request (kafka-rig.sh's probe).
wait_ready() {
    local deadline=$((SECONDS + START_TIMEOUT)) pid
    pid="$(cat "$DIR/pid")"
    while :; do
        if ! owned_pid "$pid"; then
            log "the broker (pid $pid) exited during start-up; last lines of $DIR/server.log:"
            tail -n 60 "$DIR/server.log" | sed 's/^/    /' >&2
            return 1
        fi
        if python3 - "127.0.0.1:$(cat "$DIR/internal.port")" 2>/dev/null <<'PY'; then
import socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
def call(s, key, ver, body):
    cid = b"secure-rig"
    msg = struct.pack(">hhih", key, ver, 7, len(cid)) + cid + body
    s.sendall(struct.pack(">i", len(msg)) + msg)
    n = struct.unpack(">i", s.recv(4, socket.MSG_WAITALL))[0]
    return s.recv(n, socket.MSG_WAITALL)[4:]
with socket.create_connection((host, int(port)), timeout=3) as s:
    s.settimeout(5)
    r = call(s, 3, 1, struct.pack(">i", -1))
    sys.exit(0 if struct.unpack(">i", r[:4])[0] >= 1 else 1)
PY
            return 0
        fi
        ((SECONDS < deadline)) || { log "no answer within ${START_TIMEOUT}s"; tail -n 60 "$DIR/server.log" >&2; return 1; }
        sleep 0.5
    done
}

cmd_start() {
    need java "install a JDK >= 17"
    need openssl "install openssl"
    need python3 "install python3"
    need setsid "install util-linux"
    local t0=$SECONDS
    cmd_stop quiet
    # kafka-rig.sh fetches the jars (under its lock); skip it when they are there for the current pom,
    # so that this can start while kafka-rig.sh starts its own brokers.
    if [[ "$(cat "$RIG/kafka/libs.stamp" 2>/dev/null)" != "$(sha256sum "$SCRIPT_DIR/rig/pom.xml" | cut -d' ' -f1)" ]] ||
        ! compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; then
        bash "$SCRIPT_DIR/kafka-rig.sh" fetch
    fi
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    ADMIN_PASSWORD="$(password)"
    FERRY_PASSWORD="$(password)"
    KEY_PASSWORD="$(password)"
    STORE_PASSWORD="$(password)"
    make_certs
    local ports
    read -r -a ports <<<"$(free_ports 4)"
    echo "${ports[0]}" >"$DIR/secure.port"
    echo "${ports[2]}" >"$DIR/internal.port"
    write_config "${ports[@]}"
    rm -rf "$DIR/data"
    local mech scram=()
    for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
        scram+=(--add-scram "$mech=[name=admin,password=$ADMIN_PASSWORD]" --add-scram "$mech=[name=ferry,password=$FERRY_PASSWORD]")
    done
    tool_java kafka.tools.StorageTool format --cluster-id "$(cluster_id)" --config "$DIR/server.properties" \
        "${scram[@]}" >"$DIR/format.log" 2>&1 || { cat "$DIR/format.log" >&2; die "formatting the storage failed"; }
    rm -f "$DIR/pid"
    setsid sh -c 'echo $$ >"$0"; exec "$@"' "$DIR/pid" java "-Xms128m" "-Xmx$HEAP" -XX:TieredStopAtLevel=1 \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J_CONF" -Dferry.rig.log.level=INFO \
        -Dferry.rig.dir="$DIR" -cp "$KAFKA_LIBS/*" kafka.Kafka "$DIR/server.properties" \
        </dev/null >"$DIR/server.log" 2>&1 9>&- &
    local i
    for i in $(seq 50); do
        [[ -s "$DIR/pid" ]] && break
        sleep 0.1
    done
    wait_ready || { cmd_stop quiet; die "the secured broker did not start"; }
    umask 077
    {
        echo "# written by scripts/secure-rig.sh start; load with: set -a; . $ENV_FILE; set +a"
        printf 'FERRY_SECURE_BOOTSTRAP=127.0.0.1:%s\n' "${ports[0]}"
        printf 'FERRY_SECURE_MISMATCH_BOOTSTRAP=127.0.0.1:%s\n' "${ports[1]}"
        printf 'FERRY_SECURE_INTERNAL_BOOTSTRAP=127.0.0.1:%s\n' "${ports[2]}"
        printf 'FERRY_SECURE_CERTS=%q\n' "$CERTS"
        printf 'FERRY_SECURE_FERRY_PASSWORD=%q\n' "$FERRY_PASSWORD"
        printf 'FERRY_SECURE_ADMIN_PASSWORD=%q\n' "$ADMIN_PASSWORD"
        printf 'FERRY_SECURE_KEY_PASSWORD=%q\n' "$KEY_PASSWORD"
        printf 'FERRY_SECURE_STORE_PASSWORD=%q\n' "$STORE_PASSWORD"
        printf 'FERRY_SECURE_PID=%q\n' "$(cat "$DIR/pid")"
        printf 'FERRY_SECURE_RIG_SCRIPT=%q\n' "$SCRIPT_DIR/secure-rig.sh"
    } >"$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
    log "secured broker up in $((SECONDS - t0))s (SASL_SSL 127.0.0.1:${ports[0]}, pid $(cat "$DIR/pid")); environment in $ENV_FILE"
}

cmd_stop() {
    local quiet="${1:-}" pid
    pid="$(cat "$DIR/pid" 2>/dev/null || true)"
    if owned_pid "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 10))
        while kill -0 "$pid" 2>/dev/null; do
            if ((SECONDS >= deadline)); then
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.2
        done
        [[ -z "$quiet" ]] && log "stopped (pid $pid)"
    elif [[ -z "$quiet" ]]; then
        log "nothing was running"
    fi
    # keep server.log for post-mortems; drop data, secrets and the environment
    rm -rf "$DIR/data" "$DIR/pid" "$ENV_FILE" "$CERTS" "$DIR/server.properties"
}

cmd_acls() {
    [[ -f "$ENV_FILE" ]] || die "not started"
    local internal
    internal="$(sed -n 's/^FERRY_SECURE_INTERNAL_BOOTSTRAP=//p' "$ENV_FILE")"
    tool_java org.apache.kafka.tools.AclCommand --bootstrap-server "$internal" "$@"
}

take_lock() {
    need flock "install util-linux"
    mkdir -p "$RIG"
    exec 9>"$RIG/secure.lock"
    flock -w "${FERRY_RIG_LOCK_TIMEOUT:-600}" 9 || die "another secure-rig.sh holds $RIG/secure.lock"
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

main() {
    (($# >= 1)) || usage
    local cmd="$1"
    shift
    case "$cmd" in
    start | restart) take_lock; cmd_start ;;
    ensure) take_lock; running || cmd_start ;;
    stop) take_lock; cmd_stop ;;
    status) if running; then grep -v '^#' "$ENV_FILE" | grep -v PASSWORD; else echo "not running"; exit 1; fi ;;
    env) [[ -f "$ENV_FILE" ]] || die "no $ENV_FILE: not started"; grep -v '^#' "$ENV_FILE" ;;
    acls) cmd_acls "$@" ;;
    -h | --help | help) usage ;;
    *) log "unknown command '$cmd'"; usage ;;
    esac
}

main "$@"
