#!/bin/sh
# fgtrace bench: builds the bench programs if needed, then runs the harness.
# Usage: bench/run.sh [--quick] [--window SECONDS] [--keep]
set -e
cd "$(dirname "$0")/.."
make --no-print-directory -s -C bench
exec "${PYTHON:-python3}" bench/run.py "$@"
