#!/usr/bin/env bash
# The production topology on one machine, every part real and on 127.0.0.1 only:
#
#   client -> HAProxy :CLUSTER_PORT, HTTPS -> featwright x CLUSTER_PROCESSES (:CLUSTER_PORT+1 ...)
#                                               -> PgBouncer :PGBOUNCER_PORT (transaction pooling)
#                                                    -> PostgreSQL :5432
#                                               -> Redis :6379 (rate limits shared by the processes)
#             HAProxy :CLUSTER_HTTP_PORT, plain HTTP: only a redirect to HTTPS
#
#   deploy/cluster.sh up | down | status | stop-process N
#
# `down` stops what `up` started except PostgreSQL and Redis, which are shared services
# (`up` starts them only if they are not running).
# State (configs, logs, pids, the generated SECRET_KEY) lives in CLUSTER_STATE
# (var/cluster by default). HAProxy and PgBouncer come from Debian's packages (`up`
# installs them when missing); PgBouncer does not run as root, so it runs as `postgres`.
# HAProxy terminates TLS with CLUSTER_TLS_PEM (a certificate chain and its key in one PEM
# file) when given; else with a self-signed certificate for 127.0.0.1 and localhost that
# `up` makes once: CLUSTER_STATE/tls.crt for clients to trust, and tls.pem (certificate and
# key, mode 0600) for HAProxy.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${CLUSTER_PORT:-8100}
HTTP_PORT=${CLUSTER_HTTP_PORT:-8180}
PROCESSES=${CLUSTER_PROCESSES:-3}
PGBOUNCER_PORT=${PGBOUNCER_PORT:-6432}
DATABASE=${CLUSTER_DATABASE:-featwright_cluster}
STATE=$(realpath -m "${CLUSTER_STATE:-var/cluster}")
TLS_PEM=$(realpath -m "${CLUSTER_TLS_PEM:-$STATE/tls.pem}")
# PgBouncer runs as postgres, which may not enter STATE (a private temp dir, say).
PGB=${PGBOUNCER_DIR:-/tmp/featwright-pgbouncer-$PGBOUNCER_PORT}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
FEATWRIGHT=.venv/bin/featwright

say() { printf 'cluster: %s\n' "$*" >&2; }

install_parts() {
  local missing=()
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v pgbouncer >/dev/null || missing+=(pgbouncer)
  if ((${#missing[@]})); then
    say "installing ${missing[*]} (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# X-Forwarded-For and X-Forwarded-Proto are believed from the balancer only (HAProxy
# connects to the processes from 127.0.0.1); any other peer is the client itself.
featwright_env() {
  # shellcheck disable=SC2086 # CLUSTER_ENV: NAME=value words, one setting each
  printf '%s\n' \
    "FORWARDED_ALLOW_IPS=127.0.0.1" \
    "DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:${PGBOUNCER_PORT}/${DATABASE}" \
    "DB_PGBOUNCER=true" \
    "REDIS_URL=${REDIS_URL}" \
    "SECRET_KEY=$(cat "$STATE/secret_key")" \
    "ENVIRONMENT=production" \
    "LOG_FORMAT=json" \
    "METRICS_TOKEN=$(cat "$STATE/metrics_token")" \
    "SHUTDOWN_TIMEOUT=${SHUTDOWN_TIMEOUT:-20}" \
    "DB_POOL_SIZE=${DB_POOL_SIZE:-10}" \
    ${CLUSTER_ENV:-}
}

make_certificate() {
  if [[ -n ${CLUSTER_TLS_PEM:-} ]]; then
    [[ -r $TLS_PEM ]] || { say "CLUSTER_TLS_PEM: cannot read $TLS_PEM"; exit 1; }
    return
  fi
  [[ -s $TLS_PEM ]] && return
  say "making a self-signed certificate for 127.0.0.1 and localhost: $STATE/tls.crt"
  local made
  if ! made=$(
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
      -days 825 -subj /CN=localhost -addext 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
      -keyout "$STATE/tls.key" -out "$STATE/tls.crt" 2>&1 &&
      cat "$STATE/tls.crt" "$STATE/tls.key" >"$TLS_PEM.new" &&
      rm "$STATE/tls.key" &&
      mv "$TLS_PEM.new" "$TLS_PEM"
  ); then
    say "openssl failed: $made"
    exit 1
  fi
  chmod 644 "$STATE/tls.crt"
}

write_configs() {
  (umask 077 && mkdir -p "$STATE") && mkdir -p "$PGB"
  [[ -s $STATE/secret_key ]] || python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$STATE/secret_key"
  [[ -s $STATE/metrics_token ]] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$STATE/metrics_token"
  chmod 600 "$STATE/secret_key" "$STATE/metrics_token"
  cat >"$PGB/pgbouncer.ini" <<INI
[databases]
${DATABASE} = host=127.0.0.1 port=5432 dbname=${DATABASE}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PGBOUNCER_PORT}
unix_socket_dir =
auth_type = trust
auth_file = $PGB/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
server_reset_query = DISCARD ALL
server_reset_query_always = 1
ignore_startup_parameters = extra_float_digits
logfile = $PGB/pgbouncer.log
pidfile = $PGB/pgbouncer.pid
INI
  echo '"postgres" ""' >"$PGB/users.txt"
  chown -R postgres "$PGB"
  {
    cat <<CFG
global
    maxconn 4096
    stats socket $STATE/haproxy.sock mode 600 level admin
    ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 2s
    timeout http-request 10s  # a request head trickled slowly is cut off here
    # A process that refuses the connection (stopping, or gone) costs a retry on another:
    # nothing reached it, so even a POST is safe to send again.
    retries 3
    option redispatch 1
    retry-on conn-failure
    # A new connection to the process per request: a stopping process then never sees a
    # request on a connection it is closing.
    option http-server-close
# Plain HTTP answers nothing but a redirect to the same URL over HTTPS (308: the method and
# body are kept); no request reaches a process unencrypted.
frontend http
    bind 127.0.0.1:${HTTP_PORT}
    http-request redirect location https://%[req.hdr(host),host_only]:${PORT}%[capture.req.uri] code 308
frontend api
    bind 127.0.0.1:${PORT} ssl crt ${TLS_PEM}
    # The processes believe X-Forwarded-For from 127.0.0.1 (FORWARDED_ALLOW_IPS): the only
    # one they get is the client's address as HAProxy sees it, never one the client sent.
    http-request del-header X-Forwarded-For
    option forwardfor
    http-request set-header X-Forwarded-Proto https
    # HSTS: browsers use only HTTPS for this host from now on (for a year).
    http-after-response set-header Strict-Transport-Security "max-age=31536000"
    default_backend featwright
backend featwright
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    http-response set-header X-Served-By %s
    default-server inter 500ms fall 2 rise 2
CFG
    for n in $(seq 1 "$PROCESSES"); do
      echo "    server featwright$n 127.0.0.1:$((PORT + n)) check"
    done
  } >"$STATE/haproxy.cfg"
}

start_pgbouncer() {
  if [[ -f $PGB/pgbouncer.pid ]] && kill -0 "$(cat "$PGB/pgbouncer.pid")" 2>/dev/null; then
    return
  fi
  runuser -u postgres -- pgbouncer -d "$PGB/pgbouncer.ini"
  for _ in $(seq 1 50); do
    pg_isready -q -h 127.0.0.1 -p "$PGBOUNCER_PORT" -d "$DATABASE" && return
    sleep 0.1
  done
  say "PgBouncer did not start; see $PGB/pgbouncer.log"
  exit 1
}

start_process() {
  local n=$1 port=$((PORT + $1))
  if [[ -f $STATE/featwright$n.pid ]] && kill -0 "$(cat "$STATE/featwright$n.pid")" 2>/dev/null; then
    return  # already running (a second `up`)
  fi
  (
    set -a
    # shellcheck disable=SC1090
    source <(featwright_env)
    exec "$FEATWRIGHT" serve --host 127.0.0.1 --port "$port"
  ) >>"$STATE/featwright$n.log" 2>&1 &
  echo $! >"$STATE/featwright$n.pid"
}

wait_healthy() {
  local url=$1
  for _ in $(seq 1 300); do  # 30 s: a process starts in 1 s, but in 8 s on a busy machine
    # -k: this only asks whether it answers; a real certificate need not name 127.0.0.1.
    curl -fsk "$url/health/ready" >/dev/null && return
    sleep 0.1
  done
  say "nothing healthy at $url"
  exit 1
}

up() {
  install_parts
  pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
  redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1 ||
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DATABASE"
  # PgBouncer cannot pass a statement_timeout at connect: the database carries it.
  psql -h 127.0.0.1 -U postgres -qc "ALTER DATABASE $DATABASE SET statement_timeout = '30s'"
  write_configs
  make_certificate
  start_pgbouncer
  say "migrating (one step, before any process starts)"
  # shellcheck disable=SC1090
  (set -a; source <(featwright_env); "$FEATWRIGHT" db upgrade) >>"$STATE/migrate.log" 2>&1
  for n in $(seq 1 "$PROCESSES"); do
    start_process "$n"
  done
  for n in $(seq 1 "$PROCESSES"); do
    wait_healthy "http://127.0.0.1:$((PORT + n))"
  done
  if ! { [[ -f $STATE/haproxy.pid ]] && kill -0 "$(cat "$STATE/haproxy.pid")" 2>/dev/null; }; then
    haproxy -D -f "$STATE/haproxy.cfg" -p "$STATE/haproxy.pid"
  fi
  wait_healthy "https://127.0.0.1:$PORT"
  say "up: https://127.0.0.1:$PORT ($PROCESSES processes, PgBouncer :$PGBOUNCER_PORT)," \
    "certificate $TLS_PEM; http://127.0.0.1:$HTTP_PORT redirects to HTTPS"
}

stop_pid() {
  local file=$1
  [[ -f $file ]] || return 0
  local pid
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    # SIGTERM's grace period (SHUTDOWN_TIMEOUT) and a little more, then SIGKILL.
    for _ in $(seq 1 $(((${SHUTDOWN_TIMEOUT:-20} + 5) * 10))); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$file"
}

down() {
  stop_pid "$STATE/haproxy.pid"
  for file in "$STATE"/featwright*.pid; do stop_pid "$file"; done
  stop_pid "$PGB/pgbouncer.pid"
  rm -rf "$PGB"
  say "down"
}

status() {
  if [[ ! -S $STATE/haproxy.sock ]]; then
    echo "down"
    return 1
  fi
  # Each process as HAProxy's health checks see it: UP, DOWN, or going.
  python3 - "$STATE/haproxy.sock" <<'PY'
import csv, socket, sys
with socket.socket(socket.AF_UNIX) as sock:
    sock.connect(sys.argv[1])
    sock.sendall(b"show stat\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
rows = csv.DictReader(data.decode().lstrip("# ").splitlines())
for row in rows:
    if row["pxname"] == "featwright" and row["svname"] not in ("FRONTEND", "BACKEND"):
        print(row["svname"], row["status"])
PY
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  stop-process) stop_pid "$STATE/featwright${2:?which process}.pid" ;;
  *) echo "usage: $0 up|down|status|stop-process N" >&2; exit 2 ;;
esac
