#!/usr/bin/env bash
# The production topology on one machine, every part real and on 127.0.0.1 only. Each
# PostgreSQL node stands in for a machine of its own: its own ports, data directory,
# PgBouncer and Patroni.
#
#   client -> HAProxy :CLUSTER_PORT, HTTPS -> featwright x CLUSTER_PROCESSES (:CLUSTER_PORT+1 ...)
#     featwright -> HAProxy :CLUSTER_DB_PORT, TCP, to the node whose Patroni holds the leader lock
#                     -> that node's PgBouncer (transaction pooling) -> its PostgreSQL 15
#     featwright -> Redis :6379 (rate limits shared by the processes)
#   node N (CLUSTER_NODES of them, 2 by default): PostgreSQL :CLUSTER_NODE_PORT+3(N-1),
#     its PgBouncer +1, Patroni's REST API +2. One primary; the others stream from it, one of
#     them synchronously: a commit is acknowledged once that standby has it on disk, and only
#     that standby may be promoted, so a failover loses no acknowledged write.
#   etcd :CLUSTER_ETCD_PORT (peers +1): Patroni's leader lock, with a TTL of 10 s.
#   HAProxy :CLUSTER_HTTP_PORT, plain HTTP: only a redirect to HTTPS
#
#   deploy/cluster.sh up | down | destroy | status | stop-process N
#                     | freeze-node N | thaw-node N | kill-node N | start-node N | switchover
#
# `down` stops everything `up` started and keeps the data (`up` starts it again); `destroy`
# also deletes the nodes' data and etcd's. `kill-node N` is the loss of node N's machine:
# its Patroni, PgBouncer and PostgreSQL frozen, then killed (SIGKILL), with nothing written or
# sent after; `freeze-node N` a machine that hangs (its connections open and silent) until
# `thaw-node N` or `kill-node N`;
# `start-node N` the machine back (it rejoins as a standby, rewound with pg_rewind if it had
# gone ahead). `switchover` hands the primary to a standby, as before
# maintenance. Redis is a shared service (`up` starts it only if it is not running).
# State (configs, logs, pids, etcd's data, the generated SECRET_KEY) lives in CLUSTER_STATE
# (var/cluster by default); the nodes, which run as `postgres`, in CLUSTER_NODE_DIR.
# HAProxy, PgBouncer, Patroni and etcd come from Debian's packages (`up` installs them when
# missing). HAProxy terminates TLS with CLUSTER_TLS_PEM (a certificate chain and its key in
# one PEM file) when given; else with a self-signed certificate for 127.0.0.1 and localhost
# that `up` makes once: CLUSTER_STATE/tls.crt for clients to trust, and tls.pem (certificate
# and key, mode 0600) for HAProxy.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${CLUSTER_PORT:-8100}
HTTP_PORT=${CLUSTER_HTTP_PORT:-8180}
PROCESSES=${CLUSTER_PROCESSES:-3}
DB_PORT=${CLUSTER_DB_PORT:-6432}
NODES=${CLUSTER_NODES:-2}
NODE_PORT=${CLUSTER_NODE_PORT:-5433}
ETCD_PORT=${CLUSTER_ETCD_PORT:-2479}
DATABASE=${CLUSTER_DATABASE:-featwright_cluster}
STATE=$(realpath -m "${CLUSTER_STATE:-var/cluster}")
TLS_PEM=$(realpath -m "${CLUSTER_TLS_PEM:-$STATE/tls.pem}")
# The nodes run as postgres, which may not enter STATE (a private temp dir, say).
NODE_DIR=$(realpath -m "${CLUSTER_NODE_DIR:-/var/lib/featwright/cluster-$PORT}")
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
STATEMENT_TIMEOUT=${DB_STATEMENT_TIMEOUT:-30}
FEATWRIGHT=.venv/bin/featwright
PG_BIN=${PG_BIN:-$(pg_config --bindir 2>/dev/null || true)}

say() { printf 'cluster: %s\n' "$*" >&2; }

install_parts() {
  local missing=()
  command -v haproxy >/dev/null || missing+=(haproxy)
  command -v pgbouncer >/dev/null || missing+=(pgbouncer)
  command -v patroni >/dev/null || missing+=(patroni)
  command -v etcd >/dev/null || missing+=(etcd-server)
  if ((${#missing[@]})); then
    say "installing ${missing[*]} (Debian packages)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Node N's ports: PostgreSQL, its PgBouncer, Patroni's REST API.
pg_port() { echo $((NODE_PORT + 3 * ($1 - 1))); }
pgbouncer_port() { echo $((NODE_PORT + 3 * ($1 - 1) + 1)); }
rest_port() { echo $((NODE_PORT + 3 * ($1 - 1) + 2)); }
node_dir() { echo "$NODE_DIR/node$1"; }

# As postgres (PostgreSQL refuses to run as root), in the foreground of this subshell.
as_postgres() { exec env HOME="$NODE_DIR" setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; }

# X-Forwarded-For and X-Forwarded-Proto are believed from the balancer only (HAProxy
# connects to the processes from 127.0.0.1); any other peer is the client itself.
featwright_env() {
  # shellcheck disable=SC2086 # CLUSTER_ENV: NAME=value words, one setting each
  printf '%s\n' \
    "FORWARDED_ALLOW_IPS=127.0.0.1" \
    "DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:${DB_PORT}/${DATABASE}" \
    "DB_PGBOUNCER=true" \
    "DB_STATEMENT_TIMEOUT=${STATEMENT_TIMEOUT}" \
    "REDIS_URL=${REDIS_URL}" \
    "SECRET_KEY=$(cat "$STATE/secret_key")" \
    "ENVIRONMENT=production" \
    "LOG_FORMAT=json" \
    "METRICS_TOKEN=$(cat "$STATE/metrics_token")" \
    "SHUTDOWN_TIMEOUT=${SHUTDOWN_TIMEOUT:-20}" \
    "DB_POOL_SIZE=${DB_POOL_SIZE:-10}" \
    ${CLUSTER_ENV:-}
}

write_configs() {
  (umask 077 && mkdir -p "$STATE")
  [[ -s $STATE/secret_key ]] || python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$STATE/secret_key"
  [[ -s $STATE/metrics_token ]] || python3 -c 'import secrets; print(secrets.token_urlsafe(24))' >"$STATE/metrics_token"
  chmod 600 "$STATE/secret_key" "$STATE/metrics_token"
  own_node_dir
  for n in $(seq 1 "$NODES"); do
    write_node_config "$n"
  done
  write_balancer_config
  write_database_route_config
}

# Whether NODE_DIR holds files that are not the cluster's: it is neither new, nor empty, nor
# the cluster's (holding node1). `up` will not use such a directory, nor `destroy` delete it.
node_dir_is_foreign() {
  [[ -d $NODE_DIR && -n $(ls -A "$NODE_DIR") && ! -f $NODE_DIR/node1/patroni.yml ]]
}

# NODE_DIR, made for postgres. An existing parent is left as it is (it may be /tmp).
own_node_dir() {
  local parent
  parent=$(dirname "$NODE_DIR")
  [[ -d $parent ]] || install -d -m 0755 "$parent"
  if node_dir_is_foreign; then
    say "CLUSTER_NODE_DIR $NODE_DIR holds files that are not the cluster's; refusing to use it"
    exit 1
  fi
  install -d -m 0700 -o postgres -g postgres "$NODE_DIR"
}

write_node_config() {
  local n=$1 dir
  dir=$(node_dir "$1")
  install -d -m 0700 -o postgres -g postgres "$dir"
  # Trust on 127.0.0.1 stands in for the private network between machines; on real hosts,
  # scram-sha-256 with passwords from a secret store, and hostssl (docs/deployment.md).
  cat >"$dir/patroni.yml" <<YAML
scope: featwright
name: node$n
restapi:
  listen: 127.0.0.1:$(rest_port "$n")
  connect_address: 127.0.0.1:$(rest_port "$n")
etcd3:
  host: 127.0.0.1:$ETCD_PORT
bootstrap:
  # The cluster-wide settings, written to etcd once, by the first node.
  dcs:
    # The leader lock lives 10 s unless renewed (every loop_wait, 2 s): a lost primary is
    # replaced about 10 s after its last renewal. Patroni needs ttl >= loop_wait +
    # 2 x retry_timeout, so that a slow etcd does not demote a healthy primary.
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    # A commit returns once the synchronous standby has flushed it; only that standby may be
    # promoted. With no standby left, the primary goes on alone (synchronous_mode_strict off):
    # available, with one copy, until a standby is back.
    synchronous_mode: true
    # The synchronous standby has every acknowledged commit; what it lags by is WAL not yet
    # committed, which must not keep it from being promoted (a bulk load writes GBs).
    maximum_lag_on_failover: 1073741824
    postgresql:
      use_pg_rewind: true
      remove_data_directory_on_rewind_failure: true
      use_slots: true
      parameters:
        max_connections: 200
        wal_keep_size: 256MB
  initdb:
    - encoding: UTF8
    - data-checksums
postgresql:
  listen: 127.0.0.1:$(pg_port "$n")
  connect_address: 127.0.0.1:$(pg_port "$n")
  data_dir: $dir/data
  bin_dir: $PG_BIN
  pgpass: $dir/pgpass
  authentication:
    superuser:
      username: postgres
    replication:
      username: replicator
    rewind:
      username: postgres
  parameters:
    unix_socket_directories: '$dir'
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication replicator 127.0.0.1/32 trust
  basebackup:
    - checkpoint: fast
YAML
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$(pg_port "$n")

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $(pgbouncer_port "$n")
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
server_reset_query = DISCARD ALL
server_reset_query_always = 1
ignore_startup_parameters = extra_float_digits
; a PostgreSQL restarting (a switchover, a rejoin) is tried again after 1 s, not 15
server_login_retry = 1
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  echo '"postgres" ""' >"$dir/users.txt"
  chown postgres:postgres "$dir/patroni.yml" "$dir/pgbouncer.ini" "$dir/users.txt"
}

write_balancer_config() {
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
    # Liveness, not readiness: a database outage (a failover) is every process's at once, and
    # taking them all out would answer the balancer's bare 503 for the app's problem 503 with
    # Retry-After. A stopping process refuses connections, which takes it out as well.
    option httpchk GET /health/live
    http-check expect status 200
    http-response set-header X-Served-By %s
    default-server inter 500ms fall 2 rise 2
CFG
    for n in $(seq 1 "$PROCESSES"); do
      echo "    server featwright$n 127.0.0.1:$((PORT + n)) check"
    done
  } >"$STATE/haproxy.cfg"
}

# The processes' one database address, which follows the primary: each node's Patroni
# answers GET /primary with 200 only while it holds the leader lock.
write_database_route_config() {
  {
    cat <<CFG
global
    maxconn 4096
    stats socket $STATE/haproxy-db.sock mode 600 level admin
defaults
    mode tcp
    timeout connect 2s
    timeout check 2s
    # Longer than a pooled connection stays idle (asyncpg closes it after 300 s).
    timeout client 30m
    timeout server 30m
    # A node that refuses the connection (lost, before its check fails) fails it at once:
    # HAProxy's default is 3 more tries, 1 s apart, which only delays the 503.
    retries 0
listen postgres
    bind 127.0.0.1:${DB_PORT}
    # While no node is the primary (a failover), a connection is refused as it arrives,
    # before a byte is read: the request answers 503 with Retry-After at once.
    tcp-request connection reject if { nbsrv(postgres) eq 0 }
    # 200: the node holds the leader lock. "role": "master": its PostgreSQL has left
    # recovery (Patroni asks pg_is_in_recovery()), so a new leader is routed to only once
    # its promotion is done and it has replayed every commit it had been sent.
    option httpchk GET /primary
    http-check expect status 200
    http-check expect rstring '"role": ?"(master|primary)"'
    # A node that stops being the primary loses its connections at once: none may write to
    # a demoted or cut-off node.
    default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions
CFG
    for n in $(seq 1 "$NODES"); do
      echo "    server node$n 127.0.0.1:$(pgbouncer_port "$n") check port $(rest_port "$n")"
    done
  } >"$STATE/haproxy-db.cfg"
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

running() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_etcd() {
  running "$STATE/etcd.pid" && return
  local peer="http://127.0.0.1:$((ETCD_PORT + 1))"
  etcd --name featwright --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "featwright=$peer" >>"$STATE/etcd.log" 2>&1 &
  echo $! >"$STATE/etcd.pid"
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$ETCD_PORT/health" >/dev/null && return
    sleep 0.1
  done
  say "etcd did not start; see $STATE/etcd.log"
  exit 1
}

start_node() {
  local n=$1 dir
  dir=$(node_dir "$1")
  if ! running "$dir/pgbouncer.pid"; then
    (as_postgres pgbouncer -d "$dir/pgbouncer.ini")
  fi
  if ! running "$dir/patroni.pid"; then
    (cd "$dir" && as_postgres patroni "$dir/patroni.yml") >>"$dir/patroni.log" 2>&1 &
    echo $! >"$dir/patroni.pid"
  fi
}

# deploy/cluster_state.py: what HAProxy's stats sockets and Patroni's GET /cluster say.
state() { python3 deploy/cluster_state.py "$@"; }

# The cluster as Patroni sees it (GET /cluster of the first node that answers), as JSON.
cluster_json() {
  for n in $(seq 1 "$NODES"); do
    curl -fs --max-time 2 "http://127.0.0.1:$(rest_port "$n")/cluster" && return
  done
  return 1
}

# Until every node runs: one primary, and the standbys streaming from it, one synchronous.
wait_replicated() {
  for _ in $(seq 1 1200); do  # 120 s: initdb and a base backup on a busy machine
    cluster_json 2>/dev/null | state replicated "$NODES" && return
    sleep 0.1
  done
  say "the nodes did not replicate within 120 s; see $NODE_DIR/node*/patroni.log"
  cluster_json >&2 || true
  exit 1
}

# The nodes the database route sends connections to (UP, or going down, in HAProxy's
# checks), one a line.
route_up() { state route "$STATE/haproxy-db.sock"; }

# A statement on the primary, through the processes' own route.
on_primary() { psql -h 127.0.0.1 -p "$DB_PORT" -U postgres -d postgres -tAc "$1"; }

# HAProxy starts with every node UP until its checks say otherwise: wait until the route
# leads to the primary alone.
wait_route() {
  local leader
  for _ in $(seq 1 300); do
    leader=$(cluster_json 2>/dev/null | state leader || true)
    [[ -n $leader && $(route_up) == "$leader" ]] && on_primary 'SELECT 1' >/dev/null 2>&1 && return
    sleep 0.1
  done
  say "no primary through 127.0.0.1:$DB_PORT; see $STATE/haproxy-db.cfg"
  exit 1
}

start_process() {
  local n=$1 port=$((PORT + $1))
  running "$STATE/featwright$n.pid" && return  # already running (a second `up`)
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
  if [[ ! -x $PG_BIN/postgres ]]; then
    say "no PostgreSQL server in '$PG_BIN' (PG_BIN, else pg_config --bindir)"
    exit 1
  fi
  redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no
  write_configs
  make_certificate
  start_etcd
  for n in $(seq 1 "$NODES"); do
    start_node "$n"
  done
  wait_replicated
  running "$STATE/haproxy-db.pid" || haproxy -D -f "$STATE/haproxy-db.cfg" -p "$STATE/haproxy-db.pid"
  wait_route
  on_primary "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1 ||
    on_primary "CREATE DATABASE $DATABASE" >/dev/null
  # PgBouncer cannot pass a statement_timeout at connect: the database carries it.
  on_primary "ALTER DATABASE $DATABASE SET statement_timeout = '${STATEMENT_TIMEOUT}s'" >/dev/null
  say "migrating (one step, on the primary, before any process starts)"
  # shellcheck disable=SC1090
  (set -a; source <(featwright_env); "$FEATWRIGHT" db upgrade) >>"$STATE/migrate.log" 2>&1
  for n in $(seq 1 "$PROCESSES"); do
    start_process "$n"
  done
  for n in $(seq 1 "$PROCESSES"); do
    wait_healthy "http://127.0.0.1:$((PORT + n))"
  done
  running "$STATE/haproxy.pid" || haproxy -D -f "$STATE/haproxy.cfg" -p "$STATE/haproxy.pid"
  wait_healthy "https://127.0.0.1:$PORT"
  say "up: https://127.0.0.1:$PORT ($PROCESSES processes; $NODES PostgreSQL nodes under" \
    "Patroni, the primary at 127.0.0.1:$DB_PORT), certificate $TLS_PEM;" \
    "http://127.0.0.1:$HTTP_PORT redirects to HTTPS"
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

# Node N's processes: Patroni, PgBouncer, the postmaster and each of its children (backends,
# the WAL sender), those of them still running as postgres (a stale pid file may name a
# process that has reused the pid since).
node_pids() {
  local dir candidates=() postmaster
  dir=$(node_dir "$1")
  for file in "$dir/patroni.pid" "$dir/pgbouncer.pid"; do
    [[ -f $file ]] && candidates+=("$(cat "$file")")
  done
  if [[ -f $dir/data/postmaster.pid ]]; then
    postmaster=$(sed -n 1p "$dir/data/postmaster.pid")
    candidates+=("$postmaster")
    mapfile -t -O "${#candidates[@]}" candidates < <(pgrep -P "$postmaster" || true)
  fi
  for pid in "${candidates[@]}"; do
    [[ $(stat -c %U "/proc/$pid" 2>/dev/null) == postgres ]] && echo "$pid"
  done
  return 0
}

# Node N's machine frozen: every process of it stopped where it stands (SIGSTOP), so none
# answers, writes, sends or forks another; its connections stay open, silent, as those of
# a host that hangs or is cut off. Twice: a postmaster may have forked a backend between.
freeze_node() {
  local pids
  for _ in 1 2; do
    mapfile -t pids < <(node_pids "$1")
    ((${#pids[@]})) && kill -STOP "${pids[@]}" 2>/dev/null
  done
  return 0
}

# Node N's machine running again where it stood (SIGCONT).
thaw_node() {
  local pids
  mapfile -t pids < <(node_pids "$1")
  ((${#pids[@]})) && kill -CONT "${pids[@]}" 2>/dev/null
  return 0
}

# The loss of node N's machine: frozen, then every process killed (SIGKILL), with nothing
# written or sent after. The kernel then closes their sockets, as a machine that is lost
# does not: `freeze-node` first, `kill-node` later, is a machine that goes silent.
kill_node() {
  local pids
  freeze_node "$1"
  mapfile -t pids < <(node_pids "$1")
  ((${#pids[@]})) && kill -KILL "${pids[@]}" 2>/dev/null
  rm -f "$(node_dir "$1")/patroni.pid" "$(node_dir "$1")/pgbouncer.pid"
}

stop_node() {
  local dir
  dir=$(node_dir "$1")
  # Patroni stops its PostgreSQL cleanly on SIGTERM; one killed after 65 s may leave it.
  SHUTDOWN_TIMEOUT=60 stop_pid "$dir/patroni.pid"
  if [[ -f $dir/data/postmaster.pid ]]; then
    (as_postgres "$PG_BIN/pg_ctl" stop -s -m immediate -D "$dir/data") 2>/dev/null || true
  fi
  stop_pid "$dir/pgbouncer.pid"
}

switchover() {
  local members leader candidate
  members=$(cluster_json)
  leader=$(state leader <<<"$members")
  candidate=$(state candidate <<<"$members")
  if [[ -z $leader || -z $candidate ]]; then
    say "switchover needs a primary and a synchronous standby; status:"
    status >&2
    exit 1
  fi
  say "switchover: $leader to $candidate"
  HOME="$NODE_DIR" patronictl -c "$(node_dir 1)/patroni.yml" switchover \
    --leader "$leader" --candidate "$candidate" --force
}

down() {
  stop_pid "$STATE/haproxy.pid"
  for file in "$STATE"/featwright*.pid; do stop_pid "$file"; done
  stop_pid "$STATE/haproxy-db.pid"
  # The standbys before the primary: a primary that stops cleanly gives up the leader lock,
  # and a standby still running would take it and be promoted.
  local leader
  leader=$(cluster_json 2>/dev/null | state leader || true)
  for n in $(seq 1 "$NODES"); do
    [[ node$n == "$leader" ]] || stop_node "$n"
  done
  [[ -n $leader ]] && stop_node "${leader#node}"
  stop_pid "$STATE/etcd.pid"
  say "down"
}

destroy() {
  down
  if node_dir_is_foreign; then
    say "CLUSTER_NODE_DIR $NODE_DIR holds files that are not the cluster's; not deleting it"
    exit 1
  fi
  rm -rf "$NODE_DIR" "$STATE/etcd"
  say "destroyed the nodes' data and etcd's"
}

status() {
  if [[ ! -S $STATE/haproxy.sock ]]; then
    echo "down"
    return 1
  fi
  (cluster_json 2>/dev/null || true) | state status "$STATE/haproxy.sock" "$STATE/haproxy-db.sock"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  destroy) destroy ;;
  status) status ;;
  stop-process) stop_pid "$STATE/featwright${2:?which process}.pid" ;;
  freeze-node) freeze_node "${2:?which node}" ;;
  thaw-node) thaw_node "${2:?which node}" ;;
  kill-node) kill_node "${2:?which node}" ;;
  start-node) start_node "${2:?which node}" ;;
  switchover) switchover ;;
  *)
    echo "usage: $0 up|down|destroy|status|stop-process N|freeze-node N|thaw-node N|kill-node N|start-node N|switchover" >&2
    exit 2
    ;;
esac
