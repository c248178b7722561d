#!/usr/bin/env bash
# Runs every test of the repository: installs what the tests need (NuGet packages through dotnet restore,
# npm packages for the interoperability tests), builds, runs the test projects, and ends with one line
# "N passed, M failed" counted from the test results.
set -uo pipefail
cd "$(dirname "$0")"

results=.ci/out/test-results
rm -rf "$results"
mkdir -p "$results"

echo "==> npm packages for the interoperability tests"
if ! (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error); then
  echo "npm ci failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

echo "==> Debian packages for the end-to-end tests (prometheus, chromium)"
# prometheus for the telemetry tests, chromium for the dashboard's browser test: installed when missing, with one
# apt-get update for both.
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  # prometheus' maintainer scripts would start a service: forbid service starts while installing (policy-rc.d
  # exit 101); the tests run /usr/bin/prometheus themselves on loopback.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  apt_status=$?
  [ "$own_policy" -eq 1 ] && rm -f "$policy"
  if [ "$apt_status" -ne 0 ]; then
    echo "apt-get install ${missing[*]} failed; the tests that need them will fail" >&2
  fi
fi

echo "==> build"
if ! dotnet build Mesh.sln -c Release --nologo -v minimal; then
  echo "build failed" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

echo "==> tests"
dotnet test Mesh.sln -c Release --no-build --nologo \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" \
  -- RunConfiguration.TestSessionTimeout=1500000
status=$?

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
if [ "$failed" -gt 0 ]; then
  # Name every failed test and the first lines of its message just above the counts, so a log cut to its tail
  # still says what failed.
  echo "==> failed tests"
  for trx in "$results"/*.trx; do
    [ -f "$trx" ] || continue
    perl -0777 -ne '
      sub unescape { my $t = shift; $t =~ s/&quot;/"/g; $t =~ s/&lt;/</g; $t =~ s/&gt;/>/g; $t =~ s/&#xD;//g; $t =~ s/&amp;/&/g; return $t; }
      while (/<UnitTestResult\b([^>]*?)(?:\/>|>(.*?)<\/UnitTestResult>)/sg) {
        my ($attrs, $body) = ($1, $2 // "");
        next unless $attrs =~ /outcome="Failed"/;
        my ($name) = $attrs =~ /testName="([^"]*)"/;
        my ($message) = $body =~ /<Message>(.*?)<\/Message>/s;
        print "FAILED ", unescape($name // "?"), "\n  ", unescape(substr($message // "", 0, 600)), "\n";
      }' "$trx"
  done
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the run failed without a failing test (a crash, a timeout): count it.
fi
echo "${passed} passed, ${failed} failed"
exit "$status"
