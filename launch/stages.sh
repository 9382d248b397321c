# Sourced by the GPU measurement scripts: the wheels carried in, and `stage`, which runs one
# step of a measurement under its own time limit within the script's BUDGET.
# Needs OUT and CARRY set; sets start and budget.
mkdir -p "$OUT/logs"
if compgen -G "$CARRY/*.whl" >/dev/null; then
  pip install -q --no-index --no-deps --target /tmp/site "$CARRY"/*.whl || echo "wheels not installed"
  export PYTHONPATH=/tmp/site:$PWD
fi
start=$SECONDS
budget=${BUDGET:-540}  # Seconds for all stages: the device tool stops a command at 600.
stage() {  # stage NAME SECONDS COMMAND...: log to $OUT/logs/NAME.log, status to status.txt.
  local name=$1 limit=$2 left
  shift 2
  left=$((budget - (SECONDS - start)))
  if [ "$left" -lt 20 ]; then
    echo "$name skipped: out of time" | tee -a "$OUT/logs/status.txt"
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name ($(date +%T), limit ${limit}s)"
  timeout "$limit" "$@" >"$OUT/logs/$name.log" 2>&1
  echo "$name rc=$? $((SECONDS - start))s" | tee -a "$OUT/logs/status.txt"
}
