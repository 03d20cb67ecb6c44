#!/usr/bin/env bash
# Installs dependencies, builds NetGuard and runs the whole test suite (ctest labels unit, bpf,
# e2e). Needs root: the bpf and e2e tests load real BPF programs and create network namespaces.
# Extra arguments go to ctest, e.g. `scripts/test.sh -L unit`.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build}
scripts/install-deps.sh
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD_DIR" -j "$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 300 "$@"
