#!/usr/bin/env bash
# The write-throughput comparison of the README's "Performance" section, in
# one run on this machine: each owner kind's raw baseline beside the gateway
# in front of it, with a real HTTP load generator (wrk).
#
#   benches/compare.sh                 # 10 s per row, 32 clients
#   DURATION=30 CLIENTS=64 benches/compare.sh
#
# Rows:
#   raw PostgreSQL   pgbench, one ~400-byte INSERT … ON CONFLICT DO UPDATE per transaction
#   raw MariaDB      mysqlslap, the same row with ON DUPLICATE KEY UPDATE
#   raw SQLite       an in-process loop (Python's sqlite3), one row per
#                    transaction, WAL and synchronous=FULL like the gateway
#   gateway <kind>   POST /contracts/customer/v1/records with random keys:
#                    validated at v1, upgraded to v2, validated again,
#                    committed with its change event (group commit)
#   raw … multi-row  BULK rows from one process, 500 rows per INSERT, each
#                    INSERT its own transaction
#   gateway bulk     the same BULK rows as one NDJSON request to
#                    …/records:batch (chunks of 2,000, each line validated,
#                    upgraded and committed with its change event)
# Needs the servers of .ci/run (PostgreSQL, MariaDB) and installs wrk from
# Debian when it is missing. Nothing here asserts a speed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-32}
BULK=${BULK:-100000}
PG_URL=${CONTRACTGATE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
MYSQL_URL=${CONTRACTGATE_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/contractgate-target}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/contractgate"

work=$(mktemp -d)
schema="bench_$$"
gateway_pid=""
cleanup() {
  [ -n "$gateway_pid" ] && kill "$gateway_pid" 2>/dev/null || true
  psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  mariadb -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS $schema" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A ~400-byte customer, v1 as a client on the old version sends it.
doc='{"id":"c-%s","name":"Ada King, Countess of Lovelace","email":"ada.lovelace@example.com","phone":"+441234567890","address":{"street":"12 St James Square","city":"London","zip":"SW1Y 4JH","country":"GB"},"tags":["analytical-engine","mathematics","poetry","notes","bernoulli"]}'
raw_doc=$(printf "$doc" 0 | sed "s/'/''/g")

rows=()
row() { # what writes/s p50 p99 rss baseline-writes/s
  rows+=("$1|$2|$3|$4|$5|$6")
}

# The bulk rows: NDJSON for the gateway, multi-row INSERTs for the raw
# baselines.
python3 - "$work" "$BULK" "$doc" <<'EOF'
import sys
work, count, doc = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# Keys no wrk run draws (those have at most 15 digits).
docs = [doc.replace("%s", f"7{n:015d}") for n in range(count)]
with open(f"{work}/bulk.ndjson", "w") as out:
    out.write("\n".join(docs) + "\n")
with open(f"{work}/bulk.sql", "w") as out:
    for start in range(0, count, 500):
        rows = ", ".join("('b-%d', '%s')" % (n, docs[n].replace("'", "''")) for n in range(start, min(start + 500, count)))
        out.write(f"INSERT INTO bulk (record_key, body) VALUES {rows};\n")
EOF

# Seconds a command takes.
seconds() {
  local start; start=$(date +%s.%N)
  "$@" >/dev/null
  awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.3f", e - s}'
}
per_second() { awk -v n="$BULK" -v t="$1" 'BEGIN {printf "%.0f", n / t}'; }

# wrk: requests/s and p50/p99 in ms from its --latency report.
wrk_run() { # url
  cat >"$work/post.lua" <<EOF
local n = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local prefix = math.random(1, 999999)
local doc = [[$doc]]
request = function()
  n = n + 1
  return wrk.format("POST", "/contracts/customer/v1/records",
    {["Content-Type"] = "application/json"}, string.format(doc, prefix .. string.format("%09d", n)))
end
EOF
  wrk -t2 -c"$CLIENTS" -d"${DURATION}s" --latency -s "$work/post.lua" "$1" >"$work/wrk.txt"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
  errors=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
  [ -n "$errors" ] && echo "warning: $errors answers were not 2xx" >&2
  echo "$rps $(ms "$p50") $(ms "$p99")"
}
ms() { # wrk's 1.23ms / 456.00us / 1.2s → ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'
}

gateway() { # name config-yaml
  local dir="$work/$1"
  mkdir -p "$dir"
  printf '%s\n' "$2" >"$dir/contractgate.yaml"
  (cd "$dir" && exec "$BIN" serve --config contractgate.yaml --listen 127.0.0.1:18080 \
     --contracts "$ROOT/contracts" >/dev/null 2>"$dir/log") &
  gateway_pid=$!
  for _ in $(seq 1 100); do curl -sf localhost:18080/readyz >/dev/null && break; sleep 0.1; done
  read -r rps p50 p99 < <(wrk_run http://127.0.0.1:18080)
  local rss
  rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$gateway_pid/status")
  row "gateway, $1 owner" "$rps" "$p50" "$p99" "$rss" "$3"
  local took created
  took=$(seconds curl -sf -o "$work/bulk.out" -H 'content-type: application/x-ndjson' \
    --data-binary "@$work/bulk.ndjson" http://127.0.0.1:18080/contracts/customer/v1/records:batch)
  created=$(grep -c '"status":201' "$work/bulk.out" || true)
  [ "$created" = "$BULK" ] || echo "warning: bulk created $created of $BULK lines" >&2
  rss=$(awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$gateway_pid/status")
  kill "$gateway_pid"; wait "$gateway_pid" 2>/dev/null || true; gateway_pid=""
  row "gateway bulk, $1 owner" "$(per_second "$took")" "-" "-" "$rss" "$4"
}

# --- PostgreSQL -------------------------------------------------------------
psql -q "$PG_URL" -c "CREATE SCHEMA $schema; CREATE TABLE $schema.docs (record_key TEXT PRIMARY KEY, body JSONB NOT NULL)"
cat >"$work/pgbench.sql" <<EOF
\set id random(1, 1000000000)
INSERT INTO $schema.docs (record_key, body) VALUES ('c-' || :id, '$raw_doc')
  ON CONFLICT (record_key) DO UPDATE SET body = excluded.body;
EOF
pgbench -n -c "$CLIENTS" -j 2 -T "$DURATION" -f "$work/pgbench.sql" --log --log-prefix="$work/pg" "$PG_URL" >"$work/pgbench.txt" 2>&1
pg_tps=$(awk '/^tps/ {print $3; exit}' "$work/pgbench.txt")
read -r pg_p50 pg_p99 < <(cat "$work"/pg.* | awk '{print $3 / 1000}' | sort -n | awk '{a[NR] = $1} END {printf "%.2f %.2f\n", a[int(NR * 0.5)], a[int(NR * 0.99)]}')
row "raw PostgreSQL (pgbench)" "$pg_tps" "$pg_p50" "$pg_p99" "-" "$pg_tps"
psql -q "$PG_URL" -c "CREATE TABLE $schema.bulk (record_key TEXT PRIMARY KEY, body JSONB NOT NULL)"
pg_bulk=$(per_second "$(seconds psql -q "$PG_URL" -c "SET search_path TO $schema" -f "$work/bulk.sql")")
row "raw PostgreSQL multi-row" "$pg_bulk" "-" "-" "-" "$pg_bulk"
gateway postgres "systems:
  crm: { kind: postgres, url: \"$PG_URL\", schema: ${schema}_gw, connections: 16 }
  shop: { kind: sqlite, path: ./shop.db }" "$pg_tps" "$pg_bulk"
psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS ${schema}_gw CASCADE" >/dev/null

# --- MariaDB ----------------------------------------------------------------
mariadb -uroot -h127.0.0.1 -e "CREATE DATABASE $schema; CREATE TABLE $schema.docs (record_key VARCHAR(64) PRIMARY KEY, body LONGTEXT NOT NULL) ENGINE=InnoDB"
queries=$((CLIENTS * 400))
start=$(date +%s.%N)
mariadb-slap -uroot -h127.0.0.1 --concurrency="$CLIENTS" --iterations=1 --number-of-queries="$queries" \
  --create-schema="$schema" --query="INSERT INTO docs VALUES (UUID(), '$raw_doc') ON DUPLICATE KEY UPDATE body = VALUES(body)" >/dev/null
my_tps=$(awk -v s="$start" -v e="$(date +%s.%N)" -v q="$queries" 'BEGIN {printf "%.0f", q / (e - s)}')
row "raw MariaDB (mariadb-slap)" "$my_tps" "-" "-" "-" "$my_tps"
mariadb -uroot -h127.0.0.1 "$schema" -e "CREATE TABLE bulk (record_key VARCHAR(64) PRIMARY KEY, body LONGTEXT NOT NULL) ENGINE=InnoDB"
my_bulk=$(per_second "$(seconds sh -c "mariadb -uroot -h127.0.0.1 $schema < $work/bulk.sql")")
row "raw MariaDB multi-row" "$my_bulk" "-" "-" "-" "$my_bulk"
gateway mariadb "systems:
  crm: { kind: mysql, url: \"${MYSQL_URL%/*}/$schema\", connections: 16 }
  shop: { kind: sqlite, path: ./shop.db }" "$my_tps" "$my_bulk"

# --- SQLite -----------------------------------------------------------------
sqlite_tps=$(python3 - "$work/raw.db" "$DURATION" "$raw_doc" <<'EOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE docs (record_key TEXT PRIMARY KEY, body TEXT NOT NULL)")
end, n = time.time() + float(sys.argv[2]), 0
while time.time() < end:
    db.execute("BEGIN"); db.execute("INSERT INTO docs VALUES (?, ?)", (f"c-{n}", sys.argv[3])); db.execute("COMMIT")
    n += 1
print(round(n / float(sys.argv[2])))
EOF
)
row "raw SQLite (one row per transaction)" "$sqlite_tps" "-" "-" "-" "$sqlite_tps"
sqlite_bulk=$(python3 - "$work/bulk.db" "$work/bulk.ndjson" <<'EOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=FULL")
db.execute("CREATE TABLE bulk (record_key TEXT PRIMARY KEY, body TEXT NOT NULL)")
docs = open(sys.argv[2]).read().splitlines()
start = time.time()
for first in range(0, len(docs), 500):
    chunk = docs[first:first + 500]
    rows = ", ".join(["(?, ?)"] * len(chunk))
    values = [v for n, d in enumerate(chunk, first) for v in (f"b-{n}", d)]
    db.execute("BEGIN"); db.execute(f"INSERT INTO bulk VALUES {rows}", values); db.execute("COMMIT")
print(round(len(docs) / (time.time() - start)))
EOF
)
row "raw SQLite multi-row" "$sqlite_bulk" "-" "-" "-" "$sqlite_bulk"
gateway sqlite "systems:
  crm: { kind: sqlite, path: ./crm.db }
  shop: { kind: sqlite, path: ./shop.db }" "$sqlite_tps" "$sqlite_bulk"

# --- the table ----------------------------------------------------------------
printf '\n%s clients, %s s per row, %s\n\n' "$CLIENTS" "$DURATION" "$(date -u +%Y-%m-%d)"
printf '| %-38s | %10s | %8s | %8s | %9s | %8s |\n' what writes/s "p50 ms" "p99 ms" "peak RSS" "vs raw"
printf '|%s|%s|%s|%s|%s|%s|\n' "----------------------------------------" "------------" "----------" "----------" "-----------" "----------"
for r in "${rows[@]}"; do
  IFS='|' read -r what rps p50 p99 rss base <<<"$r"
  ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN {printf "%.2fx", a / b}')
  [ "$rss" != "-" ] && rss="$rss MiB"
  printf '| %-38s | %10.0f | %8s | %8s | %9s | %8s |\n' "$what" "$rps" "$p50" "$p99" "$rss" "$ratio"
done
