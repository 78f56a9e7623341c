#!/usr/bin/env bash
# Start-up and memory against the number of contracts: N generated
# two-version JSON Schema contracts shaped like `customer` (v1; v2 renames
# `name` to `full_name`, adds `tier` and takes its address from a shared
# file), served by the release binary on the embedded default (one SQLite
# file in a fresh data folder).
#
#   benches/scale.sh                   # N = 1000 and 10000
#   SIZES="1000 5000" benches/scale.sh
#   LOAD=0 benches/scale.sh            # without the write load row
#
# Columns:
#   check s     `contractgate check` on the folder: loading and checking alone
#   ready s     from the process's start until GET /readyz answers ready
#   RSS ready   peak resident memory (VmHWM) when it first answers ready
# With LOAD=1 (the default) the first size also gets a row under wrk's write
# load (installed from Debian when missing): POST v1 records with random keys
# spread over every contract, DURATION seconds with CLIENTS connections, and
# the peak RSS after it. Nothing here asserts a speed.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-1000 10000}
LOAD=${LOAD:-1}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-32}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/contractgate-target}"

cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/contractgate"
if [ "$LOAD" = 1 ]; then
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
fi

work=$(mktemp -d)
gateway_pid=""
cleanup() {
  [ -n "$gateway_pid" ] && kill "$gateway_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# N contracts `customer-00001` …: customer's v1 and v2, each numbered in its
# titles and name length so that no two contracts hold the same schema.
generate() { # dir n
  python3 - "$1" "$2" <<'EOF'
import json, os, sys
root, n = sys.argv[1], int(sys.argv[2])
address = {"type": "object", "required": ["street", "city", "zip"], "additionalProperties": False,
           "properties": {"street": {"type": "string", "minLength": 1}, "city": {"type": "string", "minLength": 1},
                          "zip": {"type": "string", "pattern": "^[0-9A-Z -]{3,10}$"},
                          "country": {"type": "string", "pattern": "^[A-Z]{2}$", "default": "DE"}}}
common = {"id": {"type": "string", "pattern": "^c-[0-9]+$"},
          "email": {"type": "string", "format": "email", "maxLength": 254},
          "phone": {"type": "string", "pattern": "^\\+[1-9][0-9]{6,14}$"},
          "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "maxItems": 20}}
draft = "https://json-schema.org/draft/2020-12/schema"
for i in range(1, n + 1):
    name = f"customer-{i:05d}"
    folder = os.path.join(root, name)
    os.makedirs(os.path.join(folder, "examples"))
    length = {"type": "string", "minLength": 1, "maxLength": 100 + i % 100}
    v1 = {"$schema": draft, "title": f"Customer {i}, version 1", "type": "object",
          "required": ["id", "name", "email"], "additionalProperties": False,
          "properties": {**common, "name": length, "address": {"$ref": "#/$defs/address"}},
          "$defs": {"address": address}}
    v2 = {"$schema": draft, "title": f"Customer {i}, version 2", "type": "object",
          "required": ["id", "full_name", "email", "tier"], "additionalProperties": False,
          "properties": {**common, "full_name": length,
                         "tier": {"enum": ["standard", "gold", "platinum"], "default": "standard"},
                         "address": {"$ref": "address.schema.json"}}}
    files = {"v1.schema.json": v1, "v2.schema.json": v2,
             "address.schema.json": {"$schema": draft, "title": f"Address of customer {i}", **address},
             "examples/v1.valid.full.json": {"id": "c-1", "name": "Ada Lovelace", "email": "ada@example.com",
                 "address": {"street": "1 St James Sq", "city": "London", "zip": "SW1Y 4"}}}
    for path, document in files.items():
        with open(os.path.join(folder, path), "w") as f:
            json.dump(document, f)
    with open(os.path.join(folder, "contract.yaml"), "w") as f:
        f.write(f"""name: {name}
key: /id
compatibility: backward_transitive
tags: {{ pii: [/email, /phone] }}
versions:
  - version: 1
    schema: v1.schema.json
  - version: 2
    schema: v2.schema.json
    upgrade:
      - rename: {{ from: /name, to: /full_name }}
      - default: {{ path: /tier, value: standard }}
""")
EOF
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

rss_mib() { # pid
  awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"
}

rows=()

# Serves DIR from a fresh data folder and leaves the gateway running; sets
# ready (seconds), rss (MiB) and port. Not in a subshell: it sets
# gateway_pid for stop() and cleanup().
serve() { # dir
  local data start
  data=$(mktemp -d -p "$work")
  port=$(free_port)
  start=$(date +%s.%N)
  "$BIN" serve --contracts "$1" --data "$data" --listen "127.0.0.1:$port" >/dev/null 2>"$data/log" &
  gateway_pid=$!
  until curl -sf "127.0.0.1:$port/readyz" 2>/dev/null | grep -q '"ready":true'; do
    kill -0 "$gateway_pid" 2>/dev/null || { cat "$data/log" >&2; exit 1; }
    sleep 0.01
  done
  ready=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}')
  rss=$(rss_mib "$gateway_pid")
}

stop() {
  kill "$gateway_pid"; wait "$gateway_pid" 2>/dev/null || true; gateway_pid=""
}

# POST /contracts/customer-NNNNN/v1/records, random contract and key.
load() { # port n
  cat >"$work/post.lua" <<EOF
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
local prefix, n = math.random(1, 999999), 0
local doc = [[{"id":"c-%s","name":"Ada King, Countess of Lovelace","email":"ada.lovelace@example.com","phone":"+441234567890","address":{"street":"12 St James Square","city":"London","zip":"SW1Y 4JH","country":"GB"},"tags":["analytical-engine","mathematics","poetry"]}]]
request = function()
  n = n + 1
  local path = string.format("/contracts/customer-%05d/v1/records", math.random(1, $2))
  return wrk.format("POST", path, {["Content-Type"] = "application/json"},
    string.format(doc, prefix .. string.format("%09d", n)))
end
EOF
  wrk -t2 -c"$CLIENTS" -d"${DURATION}s" -s "$work/post.lua" "http://127.0.0.1:$1" >"$work/wrk.txt"
  local errors
  errors=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
  [ -n "$errors" ] && echo "warning: $errors answers were not 2xx" >&2
  awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.txt"
}

first=1
for n in $SIZES; do
  dir="$work/contracts-$n"
  generate "$dir" "$n"
  start=$(date +%s.%N)
  "$BIN" check "$dir" >/dev/null
  check=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}')
  serve "$dir"
  rows+=("$n|$check|$ready|$rss MiB|-|-")
  if [ "$LOAD" = 1 ] && [ "$first" = 1 ]; then
    rps=$(load "$port" "$n")
    rows+=("$n, under load|-|-|-|$rps|$(rss_mib "$gateway_pid") MiB")
  fi
  stop
  rm -rf "$dir" "$work"/tmp.*
  first=0
done

printf '\n%s, %s\n\n' "$(date -u +%Y-%m-%d)" "$(nproc) cores"
printf '| %-16s | %7s | %7s | %9s | %8s | %9s |\n' contracts "check s" "ready s" "RSS ready" writes/s "RSS load"
printf '|%s|%s|%s|%s|%s|%s|\n' "------------------" "---------" "---------" "-----------" "----------" "-----------"
for r in "${rows[@]}"; do
  IFS='|' read -r what check ready rss rps load_rss <<<"$r"
  printf '| %-16s | %7s | %7s | %9s | %8s | %9s |\n' "$what" "$check" "$ready" "$rss" "$rps" "$load_rss"
done
