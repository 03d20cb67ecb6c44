#!/usr/bin/env bash
# models/build.sh - the one command that rebuilds the default model bundle from the lab:
# lab → captures → flows (netguardd --read) → labelled CSVs → ngtrain → models/default.
#
# Usage: models/build.sh [BUILD_DIR] [--reuse-data]
#   BUILD_DIR     CMake build directory (default: $NETGUARD_BUILD, else <repo>/build); netguardd and
#                 ngtrain are built there first.
#   --reuse-data  train on the CSVs already in DATA_DIR instead of running the lab again.
# Env: DATA_DIR (default /tmp/netguard-labdata: captures and CSVs stay out of the repo),
#      SEED (ngtrain's seed, default 1), OUT (default <repo>/models/default).
# The lab needs root; a full run takes about 45 min of lab time (train, seeds 1-10) + 10 min
# (holdout).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

build=${NETGUARD_BUILD:-$repo/build}
reuse=""
for arg in "$@"; do
  case "$arg" in
    --reuse-data) reuse=1 ;;
    -*) echo "build.sh: unknown option $arg" >&2 && exit 2 ;;
    *) build=$arg ;;
  esac
done
data=${DATA_DIR:-/tmp/netguard-labdata}
seed=${SEED:-1}
out=${OUT:-$repo/models/default}

cmake --build "$build" -j2 --target netguardd ngtrain
ngtrain=$(find "$build" -name ngtrain -type f -perm -u+x | head -n 1)
[ -n "$ngtrain" ] || { echo "build.sh: ngtrain not found under $build" >&2 && exit 1; }

# Train and held-out runs use different seeds and parameter ranges (tests/lab/scenarios.sh); the
# held-out CSVs only measure the bundle, they never train or tune it.
if [ -z "$reuse" ]; then
  rm -rf "$data/train" "$data/holdout"
  "$repo/tests/lab/dataset.sh" --split train --out "$data/train" --build "$build"
  "$repo/tests/lab/dataset.sh" --split holdout --out "$data/holdout" --build "$build"
fi
for split in train holdout; do
  [ -s "$data/$split/manifest.tsv" ] || { echo "build.sh: no $split data in $data" >&2 && exit 1; }
done

rm -rf "$out"
"$ngtrain" --csv "$data"/train/*.csv --features corrected \
  --holdout-csv "$data"/holdout/*.csv --validation-by-file --seed "$seed" --out "$out"
echo "bundle written to $out"
