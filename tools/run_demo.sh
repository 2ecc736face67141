#!/usr/bin/env bash
# Train a demo config on the built-in long-tailed dataset, then test its last
# checkpoint and print the metrics:
#   tools/run_demo.sh [CONFIG] [WORK_DIR] [train.py args]
# CONFIG defaults to the BCE demo, WORK_DIR to work_dirs/<config name>.
set -euo pipefail
TOOLS=$(dirname "$0")
CONFIG=${1:-configs/demo/resnet18_shapes-lt_bce.py}
WORK_DIR=${2:-work_dirs/$(basename "$CONFIG" .py)}
PYTHON=${PYTHON:-python}

"$PYTHON" "$TOOLS/train.py" "$CONFIG" --work-dir "$WORK_DIR" "${@:3}"
"$PYTHON" "$TOOLS/test.py" "$CONFIG" "$(cat "$WORK_DIR/last_checkpoint")" --work-dir "$WORK_DIR"
