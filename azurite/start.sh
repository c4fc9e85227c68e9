#!/usr/bin/env bash
# Starts Azurite (Blob, Queue, Table) on 127.0.0.1 in the background and prints its connection string on stdout.
#   azurite/start.sh [--location DIR] [--blob-port N] [--queue-port N] [--table-port N]
# DIR defaults to .data/azurite in the repository (data survives restarts). Ports default to 10000-10002 when all
# three are free (so UseDevelopmentStorage=true works), otherwise to free ports; a port of 0 means "any free port".
# Writes DIR/azurite.pid and DIR/azurite.log; stop it with azurite/stop.sh [--location DIR].
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
fail() { echo "azurite/start: $*" >&2; exit 1; }

location="$root/.data/azurite"
blob_port="" queue_port="" table_port=""
while (( $# )); do
  case "$1" in
    --location) location="$2"; shift 2 ;;
    --blob-port) blob_port="$2"; shift 2 ;;
    --queue-port) queue_port="$2"; shift 2 ;;
    --table-port) table_port="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) fail "unknown option $1 (see --help)" ;;
  esac
done

"$here/install.sh"
mkdir -p "$location"
location="$(cd "$location" && pwd)"
pid_file="$location/azurite.pid"
if [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  fail "already running with PID $(cat "$pid_file") on $location (azurite/stop.sh --location $location stops it)"
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
if [[ -z "$blob_port$queue_port$table_port" ]] && port_free 10000 && port_free 10001 && port_free 10002; then
  blob_port=10000 queue_port=10001 table_port=10002
fi
[[ -n "$blob_port" && "$blob_port" != 0 ]] || blob_port="$(free_port)"
[[ -n "$queue_port" && "$queue_port" != 0 ]] || queue_port="$(free_port)"
[[ -n "$table_port" && "$table_port" != 0 ]] || table_port="$(free_port)"

# setsid: the emulator outlives this script and a Ctrl+C in the caller's terminal.
# --skipApiVersionCheck: Azure.Storage.Blobs 12.30 speaks service version 2026-10-06, newer than the newest Azurite
# on npm (3.37.0) knows; the blob operations Orleans' provider uses are unchanged between the two.
setsid node "$here/node_modules/azurite/dist/src/azurite.js" \
  --blobHost 127.0.0.1 --blobPort "$blob_port" \
  --queueHost 127.0.0.1 --queuePort "$queue_port" \
  --tableHost 127.0.0.1 --tablePort "$table_port" \
  --location "$location" --silent --disableTelemetry --skipApiVersionCheck \
  >"$location/azurite.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pid_file"

# Ready when the Blob endpoint answers HTTP (any status: an unsigned request gets 403).
for _ in $(seq 1 300); do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$pid_file"; cat "$location/azurite.log" >&2; fail "Azurite exited during start-up (log above)"
  fi
  if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$blob_port/devstoreaccount1?comp=list"; then
    key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    echo "azurite/start: PID $pid, data in $location, blob port $blob_port" >&2
    echo "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$blob_port/devstoreaccount1;QueueEndpoint=http://127.0.0.1:$queue_port/devstoreaccount1;TableEndpoint=http://127.0.0.1:$table_port/devstoreaccount1;"
    exit 0
  fi
  sleep 0.1
done
kill "$pid" 2>/dev/null || true
rm -f "$pid_file"
fail "Azurite did not answer on port $blob_port within 30 s (log: $location/azurite.log)"
