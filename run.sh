#!/usr/bin/env bash
# Runs the main job: the Mesh control plane on its embedded default configuration (or pass --config-dir DIR).
set -euo pipefail
cd "$(dirname "$0")"
exec dotnet run --project src/Mesh.ControlPlane -c Release -- "$@"
