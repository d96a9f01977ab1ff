# Shared by the benchmarks, to be sourced (the caller defines `ROOT` and
# `BENCH_DIR`, and `SERVERS` for the WebDAV ones): progress and failure
# messages (`say`, `die`), the ferry binary to time; a work dir; the servers
# (Apache 2.4 mod_dav, nginx dav + dav_ext, the Nextcloud-like server of
# tests/servers/nextcloud-like, or a plain folder) started on 127.0.0.1 with
# their own config files under it (as tests/common/dav.rs does), what is
# missing installed with apt-get (and wsgidav with pip), waiting until a server has logged every request it
# answered; the small helpers that time passes and read the servers' logs.

say() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
    printf '\n*** BENCH FAILED: %s ***\n\n' "$*" >&2
    exit 1
}

# Sets FERRY: $FERRY_BIN, else a release build of this tree.
ferry_binary() {
    if [[ -n ${FERRY_BIN:-} ]]; then
        FERRY=$FERRY_BIN
    else
        say "cargo build --release"
        (cd "$ROOT" && cargo build --release -q) >&2 || die "cargo build --release failed"
        FERRY=${CARGO_TARGET_DIR:-$ROOT/target}/release/ferry
    fi
    [[ -x $FERRY ]] || die "no ferry binary at $FERRY"
}

# Sets WORK: a fresh folder $BENCH_DIR/PREFIX.XXXXXX, removed at exit with
# the servers still running (kept with BENCH_KEEP=1).
make_work() {
    mkdir -p "$BENCH_DIR"
    WORK=$(mktemp -d "$BENCH_DIR/$1.XXXXXX")
    chmod 755 "$WORK" # Apache's workers (www-data when we are root) go through it
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}
cleanup() {
    local s
    for s in "${!SRV_PID[@]}"; do stop_server "$s"; done
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        say "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}

SUDO=
[[ $(id -u) == 0 ]] || SUDO=sudo
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    say "installing: $*"
    # Servers must not start as system services on port 80 (as scripts/lib.sh).
    local policy=/usr/sbin/policy-rc.d made_policy= rc=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
        $SUDO chmod +x "$policy"
        made_policy=1
    fi
    $SUDO apt-get install -y -q "$@" >&2 ||
        { $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q "$@" >&2; } || rc=$?
    [[ -z $made_policy ]] || $SUDO rm -f "$policy"
    ((rc == 0)) || die "apt-get install $* failed"
}
APACHE_MODDIR=/usr/lib/apache2/modules
NGINX_DAV_EXT=/usr/lib/nginx/modules/ngx_http_dav_ext_module.so
PATH=$PATH:/usr/sbin:/sbin
# Adds to the caller's `missing` array the packages the servers of $SERVERS
# need.
need_servers() {
    local s
    for s in $SERVERS; do
        case $s in
        apache) [[ -x /usr/sbin/apache2 && -e $APACHE_MODDIR/mod_dav_fs.so && -e $APACHE_MODDIR/mod_status.so ]] ||
            missing+=(apache2) ;;
        nginx) [[ -x /usr/sbin/nginx && -e $NGINX_DAV_EXT ]] || missing+=(nginx-extras) ;;
        nextcloud) python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv) ;;
        folder) ;;
        *) die "unknown server in BENCH_SERVERS: $s (known: apache nginx nextcloud folder)" ;;
        esac
    done
    command -v curl >/dev/null || missing+=(curl)
    command -v python3 >/dev/null || missing+=(python3)
    command -v setsid >/dev/null || missing+=(util-linux)
}

# wsgidav (for the Nextcloud-like server) in the venv scripts/test.sh makes;
# found now, before a benchmark moves HOME into its work dir.
WSGIDAV_PY=${FERRY_WSGIDAV_PYTHON:-$HOME/.cache/ferry-test-venv/bin/python}
# Installs wsgidav into that venv when it lacks it (after need_servers).
need_wsgidav() {
    "$WSGIDAV_PY" -c 'import wsgidav, cheroot' >/dev/null 2>&1 && return 0
    [[ -z ${FERRY_WSGIDAV_PYTHON:-} ]] || die "$WSGIDAV_PY has no wsgidav/cheroot"
    local venv
    venv=$(dirname "$(dirname "$WSGIDAV_PY")")
    say "installing wsgidav into $venv"
    { python3 -m venv --clear "$venv" &&
        "$venv/bin/pip" install -q --disable-pip-version-check 'wsgidav~=4.4' cheroot; } >&2 ||
        die "could not install wsgidav"
}
NC_SHIM=$ROOT/tests/servers/nextcloud-like
NC_USER=bench

declare -A SRV_PID=() SRV_PORT=() SRV_LOG=() SRV_DATA=()
stop_server() {
    local s=$1 pid=${SRV_PID[$1]:-}
    [[ -n $pid ]] || return 0
    unset "SRV_PID[$s]"
    kill -TERM -- "-$pid" 2>/dev/null || return 0
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# -------------------------------------------------------------- servers ----
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Folders the server writes into must belong to its worker user.
[[ $(id -u) == 0 && ${SERVERS:-} == *apache* ]] && { id www-data >/dev/null 2>&1 || die "no www-data user"; }
give() { # server path...
    local s=$1
    shift
    if [[ $s == apache && $(id -u) == 0 ]]; then chown www-data:www-data "$@"; fi
}

# A fresh, empty server folder /dav/NAME/: prints its path on disk.
server_folder() {
    local s=$1 name=$2 p=${SRV_DATA[$1]}/dav/$2
    rm -rf "$p"
    mkdir -p "$p"
    give "$s" "$p"
    echo "$p"
}

write_apache_conf() {
    local t=$1 port=$2 conf=$1/httpd.conf m
    {
        echo "ServerRoot \"$t\""
        echo "Listen 127.0.0.1:$port"
        echo "ServerName 127.0.0.1"
        echo "PidFile \"$t/run/httpd.pid\""
        echo "DefaultRuntimeDir \"$t/run\""
        echo "Mutex file:$t/run default"
        echo "ErrorLog \"$t/error.log\""
        echo "LogLevel warn"
        for m in mpm_event authz_core dir mime dav dav_fs status; do
            echo "LoadModule ${m}_module $APACHE_MODDIR/mod_$m.so"
        done
        [[ -e $APACHE_MODDIR/mod_logio.so ]] && echo "LoadModule logio_module $APACHE_MODDIR/mod_logio.so"
        [[ $(id -u) == 0 ]] && printf 'User www-data\nGroup www-data\n'
        cat <<EOF
# Debian's apache2.conf and mpm_event.conf
Timeout 300
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadLimit 64
ThreadsPerChild 25
MaxRequestWorkers 150
MaxConnectionsPerChild 0
TypesConfig "$([[ -e /etc/mime.types ]] && echo /etc/mime.types || echo "$t/mime.types")"
DavLockDB "$t/lock/DavLock"
DocumentRoot "$t/data"
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory "$t/data">
  Require all granted
</Directory>
<Directory "$t/data/dav">
  Dav On
  DavDepthInfinity Off
</Directory>
<Location /ferry-server-status>
  SetHandler server-status
  Require all granted
</Location>
LogFormat "%m %>s %I %O %{Content-Length}i %D %U" bench
CustomLog "$t/access.log" bench
EOF
    } >"$conf"
    : >"$t/mime.types"
}

write_nginx_conf() {
    local t=$1 port=$2 mime= user=
    [[ -e /etc/nginx/mime.types ]] && mime="include /etc/nginx/mime.types;"
    [[ $(id -u) == 0 ]] && user="user root root;"
    cat >"$t/nginx.conf" <<EOF
load_module $NGINX_DAV_EXT;
$user
worker_processes 1;
daemon off;
pid "$t/nginx.pid";
error_log "$t/error.log" warn;
events { worker_connections 256; }
http {
  $mime
  default_type application/octet-stream;
  client_body_temp_path "$t/nginx-tmp/body";
  proxy_temp_path "$t/nginx-tmp/proxy";
  fastcgi_temp_path "$t/nginx-tmp/fastcgi";
  uwsgi_temp_path "$t/nginx-tmp/uwsgi";
  scgi_temp_path "$t/nginx-tmp/scgi";
  log_format bench '\$request_method \$status \$request_length \$bytes_sent \$content_length \$request_time \$request_uri';
  access_log "$t/access.log" bench;
  server {
    listen 127.0.0.1:$port;
    server_name 127.0.0.1;
    root "$t/data";
    client_max_body_size 0;
    location /dav/ {
      dav_methods PUT DELETE MKCOL COPY MOVE;
      dav_ext_methods PROPFIND OPTIONS;
      create_full_put_path on;
      dav_access user:rw group:rw all:r;
    }
  }
}
EOF
}

# The URL of the server folder /dav/NAME/ (`server_folder`).
dav_url() {
    case $1 in
    nextcloud) echo "http://127.0.0.1:${SRV_PORT[$1]}/remote.php/dav/files/$NC_USER/$2/" ;;
    folder) echo "${SRV_DATA[$1]}/dav/$2" ;;
    *) echo "http://127.0.0.1:${SRV_PORT[$1]}/dav/$2/" ;;
    esac
}

# The Nextcloud-like server of the tests (tests/servers/nextcloud-like):
# WsgiDAV with ncshim (file ids, propagated collection ETags, X-OC-Mtime,
# PUT ETags, status.php and the OCS capabilities), anonymous, serving
# $t/data/dav at /remote.php/dav/files/$NC_USER, plus an access log.
write_nextcloud_conf() {
    local t=$1 port=$2
    cat >"$t/wsgidav.yaml" <<EOF
host: 127.0.0.1
port: $port
server: cheroot
server_args: {numthreads: 20}
verbose: 1
logging: {enable: false}
provider_mapping:
  "/remote.php/dav/files/$NC_USER": {class: ncshim.NcFilesystemProvider, args: ["$t/data/dav"]}
ncshim: {root: "$t/data/dav", static_dir: "$NC_SHIM/fake-nextcloud"}
access_log: {path: "$t/access.log"}
honor_mtime_header: true
property_manager: true
lock_storage: true
middleware_stack:
  - access_log.AccessLog
  - ncshim.NcShim
  - wsgidav.error_printer.ErrorPrinter
  - wsgidav.http_authenticator.HTTPAuthenticator
  - wsgidav.request_resolver.RequestResolver
http_authenticator: {accept_basic: true, accept_digest: false, default_to_digest: false}
simple_dc: {user_mapping: {"*": true}}
EOF
    : >"$t/access.log"
}

MARKERS=0
# Waits until the server has logged every request it answered.
settle_log() {
    local s=$1 port=${SRV_PORT[$1]} log=${SRV_LOG[$1]} i st
    case $s in
    apache)
        # Apache logs on the worker thread after the response went out:
        # wait until no worker but the one answering us is busy.
        for ((i = 0; i < 500; i++)); do
            st=$(curl -s --max-time 5 "http://127.0.0.1:$port/ferry-server-status?auto" || true)
            if awk '/^BusyWorkers:/ { b = $2 } /^ConnsAsyncWriting:/ { w = $2 }
                    END { exit !(b != "" && b <= 1 && w + 0 == 0) }' <<<"$st"; then
                return 0
            fi
            sleep 0.02
        done
        ;;
    nginx)
        # One worker, which logs a request before it takes the next event.
        MARKERS=$((MARKERS + 1))
        local marker=/ferry-log-marker-$BASHPID-$MARKERS
        curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port$marker" || true
        for ((i = 0; i < 500; i++)); do
            grep -qF " $marker" "$log" && return 0
            sleep 0.02
        done
        ;;
    nextcloud)
        # tests/servers/nextcloud-like/access_log.py logs a request when
        # its answer is sent and counts those still being answered.
        for ((i = 0; i < 500; i++)); do
            [[ $(curl -s --max-time 5 "http://127.0.0.1:$port/ferry-inflight" || true) == 0 ]] && return 0
            sleep 0.02
        done
        ;;
    folder) return 0 ;;
    esac
    say "warning: $s still has requests in flight: counts may be incomplete"
}

start_server() {
    local s=$1 t=$WORK/srv-$1 port attempt pid i
    for attempt in 1 2 3 4; do
        rm -rf "$t"
        mkdir -p "$t/data/dav" "$t/lock" "$t/run" "$t/nginx-tmp"
        chmod 755 "$t" "$t/data"
        give "$s" "$t/data" "$t/data/dav" "$t/lock"
        port=$(free_port)
        case $s in
        apache)
            write_apache_conf "$t" "$port"
            setsid apache2 -f "$t/httpd.conf" -DFOREGROUND </dev/null >"$t/server.out" 2>&1 &
            ;;
        nginx)
            write_nginx_conf "$t" "$port"
            setsid nginx -p "$t" -e "$t/error.log" -c "$t/nginx.conf" </dev/null >"$t/server.out" 2>&1 &
            ;;
        nextcloud)
            write_nextcloud_conf "$t" "$port"
            setsid env PYTHONPATH="$NC_SHIM" "$WSGIDAV_PY" -m wsgidav.server.server_cli -c "$t/wsgidav.yaml" \
                </dev/null >"$t/server.out" 2>&1 &
            ;;
        folder)
            # No server: the "server folder" is a plain folder.
            SRV_PID[$s]= SRV_PORT[$s]= SRV_LOG[$s]= SRV_DATA[$s]=$t/data
            return 0
            ;;
        esac
        pid=$!
        SRV_PID[$s]=$pid SRV_PORT[$s]=$port SRV_LOG[$s]=$t/access.log SRV_DATA[$s]=$t/data
        for ((i = 0; i < 1500; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/ferry-start"; then
                if [[ $s == apache ]]; then
                    # Create the DAV lock database now: created lazily,
                    # concurrent first writes make some PUTs wait 1 s.
                    curl -s -o /dev/null -T /dev/null "http://127.0.0.1:$port/dav/.ferry-warm-up"
                    curl -s -o /dev/null -X DELETE "http://127.0.0.1:$port/dav/.ferry-warm-up"
                fi
                settle_log "$s"
                say "$s listening on 127.0.0.1:$port (pid $pid)"
                return 0
            fi
            sleep 0.02
        done
        say "$s did not start (attempt $attempt): $(tail -n 5 "$t/error.log" "$t/server.out" 2>/dev/null)"
        stop_server "$s"
    done
    die "$s did not start"
}

log_size() { if [[ -n ${SRV_LOG[$1]} ]]; then stat -c %s "${SRV_LOG[$1]}"; else echo 0; fi; }

# ------------------------------------------------------------ figures ----
# Seconds since the epoch, microseconds, without a fork.
now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
mib() { awk -v a="$1" 'BEGIN { printf "%.2f", a / 1048576 }'; }
load1() { uptime | sed 's/.*load average: //; s/,.*//'; }

# Requests logged between two offsets, without the bench's own (/ferry-…):
# prints "REQUESTS BY METHOD|REQUEST_BYTES|PUT_BODY_BYTES" ("n/a|0|0" for
# the folder "server", which has no log).
log_stats() {
    local s=$1 from=$2 to=$3
    [[ -n ${SRV_LOG[$s]} ]] || { echo "n/a|0|0"; return; }
    tail -c +$((from + 1)) "${SRV_LOG[$s]}" | head -c $((to - from)) | awk '
        $7 ~ /^\/ferry-/ { next }
        {
            n[$1]++; total++; inb += $3
            if ($1 == "PUT" && $5 ~ /^[0-9]+$/) body += $5
            if ($2 !~ /^2/) bad[$2]++
        }
        END {
            split("PROPFIND PUT GET MOVE MKCOL DELETE", order, " ")
            out = ""
            for (i = 1; i <= 6; i++) {
                m = order[i]
                if (m in n) { out = out (out == "" ? "" : ", ") m " " n[m]; delete n[m] }
            }
            for (m in n) out = out (out == "" ? "" : ", ") m " " n[m]
            if (out == "") out = "none"
            st = ""
            for (c in bad) st = st (st == "" ? "" : " ") c "x" bad[c]
            if (st != "") out = out " (status " st ")"
            printf "%s|%d|%d\n", out, inb, body
        }'
}

server_title() {
    case $1 in
    apache) echo "Apache $(apache2 -v 2>/dev/null | sed -n 's/^Server version: Apache\/\([^ ]*\).*/\1/p') mod_dav (DavDepthInfinity Off)" ;;
    nginx) echo "nginx $(nginx -v 2>&1 | sed 's/.*nginx\///') dav + dav_ext" ;;
    nextcloud) echo "Nextcloud-like server (wsgidav $("$WSGIDAV_PY" -c 'import wsgidav; print(wsgidav.__version__)') + ncshim, tests/servers/nextcloud-like)" ;;
    folder) echo "local folder to local folder (no server)" ;;
    esac
}

# Fills folder $1 with $2 small files (100 to 499 bytes) in $2/100 folders
# d0000, d0001… (bench/daemon.sh, bench/scoped.sh).
make_flat_tree() {
    python3 - "$1" "$2" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
dirs = max(1, n // 100)
for i in range(n):
    d = os.path.join(root, f"d{i % dirs:04d}")
    if i < dirs:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:06d}.txt"), "wb") as f:
        f.write(b"x" * (100 + i % 400))
PY
}
