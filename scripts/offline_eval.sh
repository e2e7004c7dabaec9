#!/usr/bin/env bash
# The decoder rows of reports/offline_eval.*: several `genrec train` variants side by side on
# one GPU (small models leave it mostly idle alone), each stopped by patience or a time budget.
# On a machine with several GPUs the variants take them in turn (variant i on GPU i mod N).
# Usage: scripts/offline_eval.sh MINUTES "DATASET SIZE EXTRA-ARGS" ...
# e.g.   scripts/offline_eval.sh 7 "beauty 5m --page-size 1" "instruments 5m --page-size 3"
# Needs the tokenizer stores (genrec tokenize) and the data (GENREC_DATA_DIR); logs go to
# ${LOGS:-logs}/.
set -uo pipefail
minutes=$1
shift
logs=${LOGS:-logs}
mkdir -p "$logs"
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
pids=()
for spec in "$@"; do
    read -r dataset size extra <<<"$spec"
    name=$(echo "$dataset-$size $extra" | tr -c 'a-zA-Z0-9_.\n-' '_')
    # shellcheck disable=SC2086
    CUDA_VISIBLE_DEVICES=$((${#pids[@]} % (gpus > 0 ? gpus : 1))) \
        python3 -m genrec train -d "$dataset" --size "$size" $extra --device cuda \
            --time-budget "$minutes" --no-progress --report reports/offline_eval.json \
            --out "checkpoints/$name" >"$logs/$name.log" 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
