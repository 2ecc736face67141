#!/usr/bin/env bash
# Training on a slurm cluster:
#   [GPUS=8] [GPUS_PER_NODE=8] tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args]
# See slurm_run.sh for the environment variables (GPUS_PER_NODE=0 on CPU-only nodes).
set -euo pipefail
exec bash "$(dirname "$0")/slurm_run.sh" "$1" "$2" train.py "$3" --work-dir="$4" "${@:5}"
