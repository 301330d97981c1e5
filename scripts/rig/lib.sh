# Helpers shared by scripts/kafka-rig.sh and scripts/secure-rig.sh (sourced, not run).

# Prints N distinct free loopback TCP ports.
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

# owned_pid PID DIR: true if PID is alive and its command line mentions DIR (a process the rig started),
# so that we never signal an unrelated process that reused the pid.
owned_pid() {
    local pid="$1" dir="$2"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$dir"
}
