#!/usr/bin/env bash
# Run a tool as a slurm job step: tools/slurm_run.sh PARTITION JOB_NAME TOOL.py [tool args]
# Used by slurm_train.sh and slurm_test.sh. Environment:
#   GPUS (total processes, default 8), GPUS_PER_NODE (default 8; 0 for CPU-only nodes,
#   which then run TASKS_PER_NODE processes, default GPUS), CPUS_PER_TASK (default 5),
#   SRUN_ARGS (extra srun arguments), PYTHON (default python).
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
TOOL=$3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
if [ "$GPUS_PER_NODE" -gt 0 ]; then
    RESOURCES=(--gres="gpu:${GPUS_PER_NODE}" --ntasks-per-node="${TASKS_PER_NODE:-$GPUS_PER_NODE}")
else
    RESOURCES=(--ntasks-per-node="${TASKS_PER_NODE:-$GPUS}")
fi
# shellcheck disable=SC2086
PYTHONPATH="$(dirname "$0")/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --ntasks="$GPUS" \
    "${RESOURCES[@]}" \
    --cpus-per-task="${CPUS_PER_TASK:-5}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS:-} \
    "${PYTHON:-python}" -u "$(dirname "$0")/$TOOL" "${@:4}" --launcher=slurm
