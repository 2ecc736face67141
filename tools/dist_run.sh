#!/usr/bin/env bash
# Start N processes of a tool with torchrun: tools/dist_run.sh TOOL.py N [tool args]
# Used by dist_train.sh and dist_test.sh. Without CUDA the processes run on CPU (gloo).
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT on every node;
# PYTHON picks the interpreter (default: python).
set -euo pipefail
TOOL=$1
NPROC=$2
PYTHONPATH="$(dirname "$0")/..${PYTHONPATH:+:$PYTHONPATH}" \
"${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$(dirname "$0")/$TOOL" "${@:3}" --launcher pytorch
