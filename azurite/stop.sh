#!/usr/bin/env bash
# Stops the Azurite started by azurite/start.sh, by the PID in DIR/azurite.pid.
#   azurite/stop.sh [--location DIR] [--kill]
# SIGTERM lets Azurite save its metadata (it autosaves only every 5 s); --kill sends SIGKILL at once instead.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
location="$root/.data/azurite"
signal=TERM
while (( $# )); do
  case "$1" in
    --location) location="$2"; shift 2 ;;
    --kill) signal=KILL; shift ;;
    -h|--help) sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) echo "azurite/stop: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
pid_file="$location/azurite.pid"
if [[ ! -f "$pid_file" ]]; then echo "azurite/stop: no $pid_file: not running" >&2; exit 0; fi
pid="$(cat "$pid_file")"
# A zombie (dead, not yet reaped by its new parent) still answers kill -0: count it as stopped.
alive() { [[ -r "/proc/$1/stat" ]] && [[ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]]; }
if alive "$pid"; then
  kill -s "$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    echo "azurite/stop: PID $pid ignored SIGTERM for 10 s; sending SIGKILL" >&2
    kill -s KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$pid_file"
echo "azurite/stop: stopped PID $pid" >&2
