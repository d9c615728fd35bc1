#!/usr/bin/env bash
# The project's one entry point, for people and for CI.
#
#   ./dev.sh demo      start everything (services, migrations, demo tenant, web, worker, beat,
#                      simulated demo traffic)
#   ./dev.sh test      run the whole test suite (installs and starts what is missing)
#   ./dev.sh setup     services + migrations + demo tenant, without starting web/worker/beat
#   ./dev.sh services  start the project-local PostgreSQL and Redis only
#   ./dev.sh stop      stop the demo traffic and the project-local PostgreSQL and Redis
#   ./dev.sh env       print the environment the other commands use
#   ./dev.sh audit     audit requirements.lock for known vulnerabilities (pip-audit)
#
# Without DATABASE_URL / REDIS_URL in the environment, a project-local PostgreSQL cluster and
# Redis server are started with their data under .local/ on ports derived from this
# checkout's path, so two clones on one machine never collide. With the variables set,
# those servers are used instead.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
LOCAL="$ROOT/.local"
VENV="$ROOT/.venv"
mkdir -p "$LOCAL"

log() { printf '\033[1;34m[scrm]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[scrm] %s\033[0m\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "missing $*: install them with your package manager"
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing Debian packages: $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

CJK_FONT_DEFAULT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
DEMO_TRAFFIC_PID="$LOCAL/demo-traffic.pid"

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

ensure_system_packages() {
  local missing=()
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  command -v msgfmt >/dev/null || missing+=(gettext)
  command -v curl >/dev/null || missing+=(curl)
  if [ -z "${DATABASE_URL:-}" ] && [ -z "$(pg_bindir)" ]; then missing+=(postgresql); fi
  if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then missing+=(redis-server); fi
  # Channel posters are drawn with a CJK font (SCRM_CJK_FONT, by default this package's file).
  if [ -z "${SCRM_CJK_FONT:-}" ] && [ ! -f "$CJK_FONT_DEFAULT" ]; then missing+=(fonts-wqy-microhei); fi
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
  if [ -n "${SCRM_CJK_FONT:-}" ] && [ ! -f "$SCRM_CJK_FONT" ]; then
    log "warning: SCRM_CJK_FONT=$SCRM_CJK_FONT does not exist: posters will not download"
  fi
}

find_python() {
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      command -v "$candidate"; return
    fi
  done
  die "Python 3.11 is required (Debian 12 ships it as python3)"
}

ensure_venv() {
  ensure_system_packages
  local stamp="$VENV/.installed"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv in .venv"
    "$(find_python)" -m venv "$VENV"
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
    log "installing Python dependencies (pinned by requirements.lock)"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -c requirements.lock -e '.[dev]'
    touch "$stamp"
  fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

choose_ports() {
  local ports="$LOCAL/ports.env"
  if [ ! -f "$ports" ]; then
    local hash base
    hash=$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
    base=$((20000 + (hash % 2000) * 10))
    while ! { port_free "$base" && port_free $((base + 1)) && port_free $((base + 2)) && port_free $((base + 3)); }; do
      base=$((base + 10))
    done
    cat >"$ports" <<PORTS
SCRM_PG_PORT=$base
SCRM_REDIS_PORT=$((base + 1))
SCRM_WEB_PORT=$((base + 2))
SCRM_SANDBOX_PORT=$((base + 3))
PORTS
  fi
  # shellcheck disable=SC1090
  . "$ports"
  export SCRM_PG_PORT SCRM_REDIS_PORT SCRM_WEB_PORT SCRM_SANDBOX_PORT
}

pg_datadir() {
  # PostgreSQL refuses to run as root, so the cluster belongs to the postgres user, who must
  # be able to reach the folder; a checkout under a private home falls back to /var/tmp.
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$LOCAL" 2>/dev/null; then
    local hash
    hash=$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
    echo "/var/tmp/scrm-$hash/pg"
  else
    echo "$LOCAL/pg"
  fi
}

start_postgres() {
  local bindir datadir run_as=()
  bindir="$(pg_bindir)"
  datadir="$(pg_datadir)"
  if [ "$(id -u)" = 0 ]; then run_as=(runuser -u postgres --); fi
  if [ ! -f "$datadir/PG_VERSION" ]; then
    log "initialising PostgreSQL cluster in $datadir"
    mkdir -p "$datadir"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$(dirname "$datadir")"; fi
    chmod 700 "$datadir"
    "${run_as[@]}" "$bindir/initdb" -D "$datadir" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 >/dev/null
  fi
  if ! "${run_as[@]}" "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$SCRM_PG_PORT"
    # A development/test cluster: durability traded for speed (schema creation, test setup).
    "${run_as[@]}" "$bindir/pg_ctl" -D "$datadir" -l "$datadir/../postgres.log" -w \
      -o "-p $SCRM_PG_PORT -c listen_addresses=127.0.0.1 -k $datadir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null
  fi
  local url="postgres://postgres@127.0.0.1:$SCRM_PG_PORT"
  if ! "$bindir/psql" "$url/postgres" -tAc "select 1 from pg_database where datname='scrm'" | grep -q 1; then
    "$bindir/psql" "$url/postgres" -qc "create database scrm" >/dev/null
  fi
  DATABASE_URL="$url/scrm"
}

start_redis() {
  if ! redis-cli -p "$SCRM_REDIS_PORT" ping >/dev/null 2>&1; then
    log "starting Redis on 127.0.0.1:$SCRM_REDIS_PORT"
    mkdir -p "$LOCAL/redis"
    redis-server --port "$SCRM_REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
      --dir "$LOCAL/redis" --pidfile "$LOCAL/redis/redis.pid" --logfile "$LOCAL/redis/redis.log" \
      --save "" --appendonly no
    for _ in $(seq 50); do redis-cli -p "$SCRM_REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  REDIS_URL="redis://127.0.0.1:$SCRM_REDIS_PORT/0"
}

ensure_services() {
  ensure_system_packages
  choose_ports
  if [ -n "${DATABASE_URL:-}" ] && [ -n "${REDIS_URL:-}" ]; then
    export DATABASE_URL REDIS_URL
    return
  fi
  local env_file="$LOCAL/services.env"
  # Read by the settings for variables not already set: a checkout with local services is a
  # development machine (production never has .local/).
  echo "SCRM_ENV=development" >"$env_file.tmp"
  echo "WECOM_SANDBOX_ENABLED=true" >>"$env_file.tmp"
  if [ -z "${DATABASE_URL:-}" ]; then
    start_postgres
    echo "DATABASE_URL=$DATABASE_URL" >>"$env_file.tmp"
  fi
  if [ -z "${REDIS_URL:-}" ]; then
    start_redis
    echo "REDIS_URL=$REDIS_URL" >>"$env_file.tmp"
  fi
  mv "$env_file.tmp" "$env_file"
  export DATABASE_URL REDIS_URL
}

stop_demo_traffic() {
  [ -f "$DEMO_TRAFFIC_PID" ] || return 0
  local pid
  pid="$(cat "$DEMO_TRAFFIC_PID")"
  # Only our own process: the pid file may be stale and the number reused.
  if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "manage.py demo_traffic"; then
    kill -TERM "$pid" 2>/dev/null || true
    log "stopped the demo traffic"
  fi
  rm -f "$DEMO_TRAFFIC_PID"
}

stop_services() {
  stop_demo_traffic
  choose_ports
  local datadir run_as=()
  datadir="$(pg_datadir)"
  if [ "$(id -u)" = 0 ]; then run_as=(runuser -u postgres --); fi
  if [ -f "$datadir/PG_VERSION" ]; then
    "${run_as[@]}" "$(pg_bindir)/pg_ctl" -D "$datadir" stop -m fast >/dev/null 2>&1 || true
  fi
  redis-cli -p "$SCRM_REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  log "stopped local services"
}

manage() { "$VENV/bin/python" manage.py "$@"; }

prepare_app() {
  manage compilemessages --ignore=.venv --ignore=.local -v 0
}

cmd_setup() {
  ensure_venv
  ensure_services
  export SCRM_ENV="${SCRM_ENV:-development}"
  # The demo tenant talks to the WeCom sandbox that `demo` starts on this port.
  export WECOM_SANDBOX_URL="${WECOM_SANDBOX_URL:-http://127.0.0.1:$SCRM_SANDBOX_PORT/cgi-bin/}"
  prepare_app
  manage collectstatic --noinput -v 0
  manage migrate_schemas -v 0
  manage demo_setup
}

cmd_demo() {
  cmd_setup
  local pids=()
  cleanup() {
    trap - INT TERM EXIT
    log "stopping web, worker, beat and the demo traffic"
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -f "$DEMO_TRAFFIC_PID"
  }
  trap cleanup INT TERM EXIT
  "$VENV/bin/python" -m wecom_sandbox --port "$SCRM_SANDBOX_PORT" \
    --state "$LOCAL/wecom-sandbox.state" &
  pids+=($!)
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$SCRM_SANDBOX_PORT/sandbox/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$VENV/bin/python" -m wecom_sandbox.demo_seed --url "http://127.0.0.1:$SCRM_SANDBOX_PORT" \
    --corp-id wwdemo0000000001 --secret demo-customer-contact-secret --token demotoken \
    --aes-key abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG \
    --callback-url "http://127.0.0.1:$SCRM_WEB_PORT/wecom/callback/wwdemo0000000001/customer_contact/"
  "$VENV/bin/gunicorn" scrm.wsgi -b "127.0.0.1:$SCRM_WEB_PORT" -w 2 --access-logfile - &
  pids+=($!)
  "$VENV/bin/celery" -A scrm worker -Q high,default,bulk,webhooks -c 2 -l info &
  pids+=($!)
  "$VENV/bin/celery" -A scrm beat -l info -s "$LOCAL/celerybeat-schedule" &
  pids+=($!)
  sleep 2
  # The first demo start fills the console: the worker syncs the sandbox's contact book.
  manage contacts_sync --schema demo --if-never
  # A gentle stream of simulated scans and deletions through the sandbox (one every ~5 s),
  # so welcomes, attribution and channel stats move; SCRM_DEMO_TRAFFIC=0 turns it off.
  if [ "${SCRM_DEMO_TRAFFIC:-1}" != 0 ]; then
    "$VENV/bin/python" manage.py demo_traffic --schema demo \
      --rate "${SCRM_DEMO_TRAFFIC_RATE:-0.2}" --delete-share 0.1 &
    pids+=($!)
    echo $! >"$DEMO_TRAFFIC_PID"
  fi
  manage demo_setup --print-only --port "$SCRM_WEB_PORT"
  log "Ctrl-C stops web, worker and beat (./dev.sh stop also stops PostgreSQL and Redis)"
  wait
}

# The browser test (channel stats chart) drives Debian's chromium through playwright;
# playwright never downloads a browser of its own.
ensure_test_packages() {
  if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then apt_install chromium; fi
}

# pip-audit runs from a venv of its own, so its dependencies never mix with the project's.
# Known vulnerabilities fail; packages the vulnerability service could not look up are
# listed, and fail too with SCRM_AUDIT_STRICT=1.
cmd_audit() {
  local venv="$LOCAL/audit-venv" report="$LOCAL/pip-audit.json" status=0
  if [ ! -x "$venv/bin/pip-audit" ]; then
    log "installing pip-audit"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "pip-audit==2.10.1" 2>"$LOCAL/pip-audit-install.log" \
      || die "could not install pip-audit: see $LOCAL/pip-audit-install.log"
  fi
  "$venv/bin/pip-audit" -r requirements.lock --no-deps --progress-spinner off -f json \
    -o "$report" 2>"$LOCAL/pip-audit.log" || status=$?
  python3 - "$report" "$status" <<'PY'
import json, os, sys
report, status = json.load(open(sys.argv[1])), int(sys.argv[2])
deps = report.get("dependencies", [])
vulnerable = [d for d in deps if d.get("vulns")]
skipped = [d for d in deps if d.get("skip_reason")]
for d in vulnerable:
    for v in d["vulns"]:
        print(f"VULNERABLE {d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v.get('fix_versions') or ['?'])})")
audited = len(deps) - len(skipped)
print(f"[scrm] pip-audit: {audited} of {len(deps)} pinned packages audited, {len(vulnerable)} with known vulnerabilities")
if skipped:
    print(f"[scrm] not audited (the vulnerability service had no answer for them): {', '.join(d['name'] for d in skipped)}")
strict = os.environ.get("SCRM_AUDIT_STRICT") == "1"
sys.exit(1 if vulnerable or (status and not deps) or (strict and skipped) else 0)
PY
}

cmd_test() {
  ensure_venv
  ensure_test_packages
  ensure_services
  prepare_app
  exec "$VENV/bin/pytest" "$@"
}

case "${1:-}" in
  demo) shift; cmd_demo "$@" ;;
  test) shift; cmd_test "$@" ;;
  setup) shift; cmd_setup "$@" ;;
  services) ensure_services; log "DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL" ;;
  stop) stop_services ;;
  audit) cmd_audit ;;
  env) ensure_services; echo "DATABASE_URL=$DATABASE_URL"; echo "REDIS_URL=$REDIS_URL" ;;
  *) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
