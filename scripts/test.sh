#!/usr/bin/env bash
# Runs every test of the solution: installs what is missing (scripts/bootstrap.sh), starts a
# throwaway PostgreSQL on loopback for the tests that need a real server, builds in Release, runs
# all test projects (arguments, e.g. --filter, go to dotnet test) and prints one summary line
# "N passed, N failed, N skipped", after the failed tests' names and messages. Without arguments it then runs the short
# form of the worker chaos scenario (tools/Easel.Tools chaos-workers: 10 jobs, 5 SIGKILLs of 2 workers) and of the
# customization eval (eval-customization --smoke: a 10-step LoRA and embedding through POST /v1/fine-tunes, used by
# generations; fails if a LoRA at scale 0 does not give the base pixels), each counted as one test.
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
if [ "$#" -gt 0 ]; then
  run_tests Easel.slnx "$@"
else
  # The end-to-end tests run alone, after the others: they start whole services and watch jobs, workers and webhooks
  # in time, which the model tests of the other assemblies, busy on the same two cores, would slow unevenly.
  run_tests Easel.slnx --filter "FullyQualifiedName!~Easel.EndToEnd.Tests"
  run_tests tests/EndToEnd.Tests/Easel.EndToEnd.Tests.csproj
  chaos_log="$RESULTS/chaos-workers.log"
  chaos_status=0
  dotnet run -c Release --no-build --project tools/Easel.Tools -- chaos-workers --jobs 10 --kills 5 --timeout-seconds 150 \
    2>&1 | tee "$chaos_log" || chaos_status=$?
  customization_log="$RESULTS/eval-customization.log"
  customization_status=0
  dotnet run -c Release --no-build --project tools/Easel.Tools -- eval-customization --smoke true \
    2>&1 | tee "$customization_log" || customization_status=$?
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
if [ -n "${chaos_log:-}" ]; then
  if [ "$chaos_status" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi
if [ -n "${customization_log:-}" ]; then
  if [ "$customization_status" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
fi
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
  if [ -n "${chaos_log:-}" ] && [ "$chaos_status" -ne 0 ]; then
    echo "FAILED chaos-workers (exit $chaos_status; whole output in $chaos_log)"
    tail -n 12 "$chaos_log" | sed 's/^/    /'
  fi
  if [ -n "${customization_log:-}" ] && [ "$customization_status" -ne 0 ]; then
    echo "FAILED eval-customization --smoke (exit $customization_status; whole output in $customization_log)"
    tail -n 12 "$customization_log" | sed 's/^/    /'
  fi
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$status" -eq 0 ] && [ "$failed" -gt 0 ]; then status=1; fi
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then echo "no test ran" >&2; status=1; fi
exit "$status"
