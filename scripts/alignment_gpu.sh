#!/usr/bin/env bash
# The rows of reports/alignment.*: per dataset one SFT decoder (time-boxed), then every
# alignment method from that same checkpoint, side by side on one GPU (small models leave it
# mostly idle alone). Needs the tokenizer stores (genrec tokenize), SASRec artifacts
# (genrec baselines) and the data (GENREC_DATA_DIR).
# Usage: scripts/alignment_gpu.sh SFT_MINUTES ALIGN_MINUTES "DATASET EXTRA-ALIGN-ARGS" ...
# e.g.   scripts/alignment_gpu.sh 3 2 "ml-100k --lr 1e-5" "beauty --lr 1e-5"
set -uo pipefail
sft_minutes=$1
align_minutes=$2
shift 2
logs=${LOGS:-logs}
mkdir -p "$logs"
status=0
pids=()
for spec in "$@"; do
    read -r dataset _ <<<"$spec"
    python3 -m genrec train -d "$dataset" --size 5m --dropout 0.2 --weight-decay 0.1 --device cuda \
        --time-budget "$sft_minutes" --no-progress --out "checkpoints/$dataset-sft" \
        >"$logs/$dataset-sft.log" 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
pids=()
for spec in "$@"; do
    read -r dataset extra <<<"$spec"
    for method in sdpo grpo-sr gbpo sage; do
        name=$(echo "$dataset-$method $extra" | tr -c 'a-zA-Z0-9_.\n-' '_')
        # shellcheck disable=SC2086
        python3 -m genrec align "checkpoints/$dataset-sft" --method "$method" $extra \
            --device cuda --time-budget "$align_minutes" --no-progress \
            --report reports/alignment.json --out "checkpoints/$name" >"$logs/$name.log" 2>&1 &
        pids+=($!)
    done
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
