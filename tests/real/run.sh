#!/usr/bin/env bash
# The real tier in one command: start real ComfyUI servers from an existing build, run tests/real
# against them, stop them. Builds nothing.
#
#   bash tests/real/run.sh COMFYUI_DIR [pytest arguments...]
#
# COMFYUI_DIR is a ComfyUI with its own .venv, the models the bundled templates load and the SlowSteps
# test node: what ../shared/real-comfyui/setup.sh builds (random-weight models are fine). Environment:
#   REAL_SERVERS   how many servers the tier shares out work to (1 or 2; default 2)
#   REAL_PORTS     their ports (default "18188 18189")
#   COMFYUI_ARGS   extra ComfyUI arguments (default "--cpu"; empty on a GPU machine)
# The tier runs in two parts, so that no more than two servers are ever up: first everything but the
# kill-and-restart test on REAL_SERVERS servers, then that test on one server plus the one it starts.
#
#   bash tests/real/run.sh --serve COMFYUI_DIR PORT   (used by the tier itself: one server, foreground)
set -euo pipefail

serve() {
  cd "$1"
  # shellcheck disable=SC2086  # COMFYUI_ARGS is a list of words
  exec .venv/bin/python main.py ${COMFYUI_ARGS---cpu} --listen 127.0.0.1 --port "$2" \
    --disable-auto-launch --preview-method auto
}

if [ "${1:-}" = "--serve" ]; then
  serve "$2" "$3"
fi

if [ $# -lt 1 ] || [ ! -x "$1/.venv/bin/python" ] || [ ! -f "$1/main.py" ]; then
  echo "usage: bash tests/real/run.sh COMFYUI_DIR [pytest arguments...]" >&2
  echo "COMFYUI_DIR must hold ComfyUI's main.py and its .venv (see ../shared/real-comfyui/setup.sh)" >&2
  exit 2
fi
comfy=$(cd "$1" && pwd)
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
script="$repo/tests/real/run.sh"
python="$repo/.venv/bin/python"
[ -x "$python" ] || python=python3
read -r -a ports <<<"${REAL_PORTS:-18188 18189}"
count=${REAL_SERVERS:-2}
logs=$(mktemp -d)
pids=()

stop_all() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap stop_all EXIT

start() {  # start one server on port $1, wait until it answers
  bash "$script" --serve "$comfy" "$1" >"$logs/comfyui-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 180); do
    curl -sf "http://127.0.0.1:$1/system_stats" >/dev/null 2>&1 && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 1
  done
  echo "ComfyUI did not start on port $1; see $logs/comfyui-$1.log" >&2
  return 1
}

urls=()
for port in "${ports[@]:0:$count}"; do
  start "$port"
  urls+=("http://127.0.0.1:$port")
done
echo "real ComfyUI servers: ${urls[*]} (logs in $logs)"
cd "$repo"
status=0
run_part() {  # pytest, where "no test selected" (5: e.g. a -k that picks the other part) is fine
  local code=0
  "$python" -m pytest -p no:cacheprovider tests/real "$@" || code=$?
  if [ "$code" -ne 0 ] && [ "$code" -ne 5 ]; then status=$code; fi
}
COMFYUI_REAL_URLS=$(IFS=,; echo "${urls[*]}") run_part -m "not needs_start" "$@"

# The kill-and-restart test starts (and kills) one server of its own: keep only the first one up.
for pid in "${pids[@]:1}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
pids=("${pids[0]}")
COMFYUI_REAL_URLS=${urls[0]} COMFYUI_REAL_START="bash $script --serve $comfy {port}" \
  run_part -m needs_start "$@"
exit "$status"
