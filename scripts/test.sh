#!/usr/bin/env bash
# Runs every test of the solution: installs what is missing (scripts/bootstrap.sh), starts a
# throwaway PostgreSQL on loopback for the tests that need a real server, builds in Release, runs
# all test projects (arguments, e.g. --filter, go to dotnet test) and prints one summary line
# "N passed, N failed, N skipped", after the failed tests' names and messages. Without arguments it then runs the short
# form of the worker chaos scenario (tools/Easel.Tools chaos-workers: 10 jobs, 5 SIGKILLs of 2 workers) and of the
# customization eval (eval-customization --smoke: a 10-step LoRA and embedding through POST /v1/fine-tunes, used by
# generations; fails if a LoRA at scale 0 does not give the base pixels) and of the control eval (eval-control
# --images 1: the bundled control models' table on one scene each), each counted as one test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
EASEL_TEST_POSTGRES="$(scripts/postgres.sh start)"
export EASEL_TEST_POSTGRES
trap 'scripts/postgres.sh stop' EXIT

RESULTS="artifacts/test-results"
rm -rf "$RESULTS"
dotnet build Easel.slnx -c Release -nologo -clp:ErrorsOnly

status=0
run_tests() {
  dotnet test "$1" -c Release --no-build --nologo \
    --logger "trx" --logger "console;verbosity=normal" --results-directory "$RESULTS" "${@:2}" || status=$?
}
# A tool command run as one test: its whole output goes to $RESULTS/NAME.log, its exit status to smoke_status[NAME].
declare -A smoke_status=()
smokes=()
run_smoke() {
  local name="$1" code=0
  mkdir -p "$RESULTS"
  dotnet run -c Release --no-build --project tools/Easel.Tools -- "$@" 2>&1 | tee "$RESULTS/$name.log" || code=$?
  smokes+=("$name")
  smoke_status[$name]=$code
}
if [ "$#" -gt 0 ]; then
  run_tests Easel.slnx "$@"
else
  # The end-to-end tests run alone, after the others: they start whole services and watch jobs, workers and webhooks
  # in time, which the model tests of the other assemblies, busy on the same two cores, would slow unevenly.
  run_tests Easel.slnx --filter "FullyQualifiedName!~Easel.EndToEnd.Tests"
  run_tests tests/EndToEnd.Tests/Easel.EndToEnd.Tests.csproj
  run_smoke chaos-workers --jobs 10 --kills 5 --timeout-seconds 150
  run_smoke eval-customization --smoke true
  run_smoke eval-control --images 1
  run_smoke eval-editing --images 2 --decoder-steps 10 --inversions 1 --steps 10 --imagic-choose 1 --imagic-test 1 --embedding-steps 10 --finetune-steps 10
fi

passed=0; failed=0; skipped=0
for trx in "$RESULTS"/*.trx; do
  [ -e "$trx" ] || continue
  counters="$(grep -o '<Counters [^>]*>' "$trx" | head -1)"
  attr() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  passed=$((passed + $(attr passed)))
  failed=$((failed + $(attr failed) + $(attr error) + $(attr timeout) + $(attr aborted)))
  skipped=$((skipped + $(attr total) - $(attr executed)))
done
for name in "${smokes[@]}"; do
  if [ "${smoke_status[$name]}" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
# The failures again, last, so that a log cut to its tail still names them and says why.
if [ "$failed" -gt 0 ]; then
  echo
  for trx in "$RESULTS"/*.trx; do
    [ -e "$trx" ] || continue
    awk '
      function decoded(text) {
        gsub(/&quot;/, "\"", text); gsub(/&apos;/, "\047", text); gsub(/&lt;/, "<", text)
        gsub(/&gt;/, ">", text); gsub(/&#xD;/, "", text); gsub(/&#xA;/, " ", text); gsub(/&amp;/, "\\&", text)
        return substr(text, 1, 400)
      }
      /<UnitTestResult / && /outcome="(Failed|Error|Timeout|Aborted)"/ {
        match($0, /testName="[^"]*"/); print "FAILED " decoded(substr($0, RSTART + 10, RLENGTH - 11)); failing = 1; next
      }
      failing && /<Message>/ { part = "message"; lines = 0 }
      failing && /<StackTrace>/ { part = "stack"; lines = 0 }
      failing && part != "" {
        text = $0; gsub(/<\/?(Message|StackTrace)>/, "", text); sub(/^[ \t]+/, "", text)
        if (lines++ < (part == "message" ? 30 : 8)) print "    " decoded(text)
        if ($0 ~ /<\/(Message|StackTrace)>/) part = ""
      }
      failing && /<\/UnitTestResult>/ { failing = 0; part = "" }
    ' "$trx"
  done
  for name in "${smokes[@]}"; do
    if [ "${smoke_status[$name]}" -ne 0 ]; then
      echo "FAILED $name (exit ${smoke_status[$name]}; whole output in $RESULTS/$name.log)"
      tail -n 12 "$RESULTS/$name.log" | sed 's/^/    /'
    fi
  done
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$status" -eq 0 ] && [ "$failed" -gt 0 ]; then status=1; fi
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then echo "no test ran" >&2; status=1; fi
exit "$status"
