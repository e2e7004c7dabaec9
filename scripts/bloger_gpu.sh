#!/usr/bin/env bash
# The BLOGER rows of reports/tokenizer.* and reports/offline_eval.*, on one GPU, in two phases
# (each fits one 10-minute device call):
#   scripts/bloger_gpu.sh tokenize DATASET  — SASRec (the collaborative signal, if absent), then
#       BLOGER stores side by side: the default, λ = 0.1, and the no-meta / no-surgery ablations,
#       each under tokenizer_store-bloger/<variant>/
#   scripts/bloger_gpu.sh train DATASET MINUTES STORE... — the best 5m decoder recipe on each
#       store (a version folder), side by side, so the fused RQ-VAE baseline shares the run.
set -uo pipefail
phase=$1 dataset=$2
shift 2
logs=${LOGS:-logs}
mkdir -p "$logs"
status=0
pids=()
if [ "$phase" = tokenize ]; then
    python3 -m genrec baselines -d "$dataset" --model sasrec --device cuda --no-progress \
        >"$logs/$dataset-sasrec.log" 2>&1 || status=1
    for variant in "default" "--rec-weight 0.1" "--no-meta" "--no-surgery"; do
        name=$(echo "$variant" | tr -d '-' | tr ' .' '__')
        extra=$([ "$variant" = default ] || echo "$variant")
        # shellcheck disable=SC2086
        python3 -m genrec tokenize -d "$dataset" --method bloger $extra --device cuda \
            --no-progress --report reports/tokenizer.json --store "tokenizer_store-bloger/$name" \
            >"$logs/$dataset-bloger-$name.log" 2>&1 &
        pids+=($!)
    done
else
    minutes=$1
    shift
    for store in "$@"; do
        name=$(echo "$store" | tr '/' '_')
        python3 -m genrec train -d "$dataset" --size 5m --dropout 0.2 --weight-decay 0.1 \
            --store "$store" --device cuda --time-budget "$minutes" --no-progress \
            --report reports/offline_eval.json --out "checkpoints/$dataset-5m-$name" \
            >"$logs/$dataset-train-$name.log" 2>&1 &
        pids+=($!)
    done
fi
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
