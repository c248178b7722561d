#!/usr/bin/env bash
# Runs the main job: the Bookinfo sample on the Mesh control plane, on this machine. Builds the sample (Release), then
# starts the control plane and every service; prints the product page URL, the dashboard URL and the control plane's
# debug URLs, and loads the product page every 0.5 s in the background so the dashboard shows traffic; Ctrl+C
# stops everything. Apply a scenario from another terminal: samples/bookinfo/scenario apply all-v1
#
#   ./run.sh [--no-build] [--config-dir DIR] [--productpage-port PORT] [--xds-port PORT] [--http-port PORT] [...]
#
# The live configuration directory defaults to samples/bookinfo/.live. CONFIGURATION=Debug runs a Debug build.
set -euo pipefail
caller="$PWD"
cd "$(dirname "$0")"
configuration="${CONFIGURATION:-Release}"
project=samples/bookinfo/Bookinfo/Bookinfo.csproj

build=1
args=()
config_dir=
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --config-dir) config_dir="$2"; shift ;;
    --config-dir=*) config_dir="${1#*=}" ;;
    *) args+=("$1") ;;
  esac
  shift
done
config_dir="${config_dir:-samples/bookinfo/.live}"
if [ -n "${config_dir%%/*}" ] && [ "$config_dir" != "samples/bookinfo/.live" ]; then
  config_dir="$caller/$config_dir" # a relative --config-dir is relative to where run.sh was called from
fi

if [ "$build" -eq 1 ]; then
  dotnet build "$project" -c "$configuration" --nologo -v quiet "-clp:ErrorsOnly;NoSummary"
fi
exec dotnet "samples/bookinfo/Bookinfo/bin/$configuration/net10.0/Bookinfo.dll" launch --config-dir "$config_dir" ${args[@]+"${args[@]}"}
