#!/usr/bin/env bash
# Testing on a slurm cluster:
#   [GPUS=8] [GPUS_PER_NODE=8] tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args]
# See slurm_run.sh for the environment variables (GPUS_PER_NODE=0 on CPU-only nodes).
set -euo pipefail
exec bash "$(dirname "$0")/slurm_run.sh" "$1" "$2" test.py "$3" "$4" "${@:5}"
