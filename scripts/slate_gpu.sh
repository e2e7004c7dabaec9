#!/usr/bin/env bash
# The rows of reports/slate.*: per spec, slate training (`genrec slate`, time-boxed) from the
# dataset's SFT checkpoint, all specs side by side on one GPU; then `genrec bench-slate` one
# checkpoint at a time, so latencies are measured on an otherwise idle GPU. Needs the SFT
# checkpoints (checkpoints/<dataset>-sft, `genrec train`), their tokenizer stores and the data
# (GENREC_DATA_DIR).
# Usage: scripts/slate_gpu.sh MINUTES "DATASET EXTRA-SLATE-ARGS" ...
# e.g.   scripts/slate_gpu.sh 4 "beauty --lr 1e-4" "beauty --orpo-weight 0" ml-100k
# CAPS (default 4): comma list of per-code slot caps the benchmark decodes slates with.
set -uo pipefail
minutes=$1
shift
logs=${LOGS:-logs}
mkdir -p "$logs"
status=0
pids=()
names=()
for spec in "$@"; do
    read -r dataset extra <<<"$spec"
    name=$(echo "$dataset-slate $extra" | tr -s ' ' '-' | tr -c 'a-zA-Z0-9_.\n-' '_' | sed 's/-$//')
    names+=("$name")
    # shellcheck disable=SC2086
    python3 -m genrec slate "checkpoints/$dataset-sft" $extra --device cuda \
        --time-budget "$minutes" --no-progress --out "checkpoints/$name" \
        >"$logs/$name.log" 2>&1 &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
for name in "${names[@]}"; do
    python3 -m genrec bench-slate "checkpoints/$name" --device cuda \
        --caps "${CAPS:-4}" --report reports/slate.json >"$logs/$name-bench.log" 2>&1 || status=1
done
exit $status
