#!/usr/bin/env bash
# The runs behind reports/recipe.* on one GPU, in phases that each fit one 10-minute device call
# and skip what an earlier call on the same (warm) machine already finished:
#   scripts/recipe_gpu.sh prep DATASET...  — per dataset, side by side: SASRec for seeds 0, 1, 2
#       (seed 0's item embeddings are the tokenizer's collaborative signal), then the default
#       tokenizer store. Rows: build/recipe/sasrec-<dataset>-s<seed>.json.
#   scripts/recipe_gpu.sh train MINUTES "DATASET SEED NAME [EXTRA-ARGS]"...  — `genrec train`
#       runs side by side, each into checkpoints/recipe/<dataset>-<name>-s<seed>, whose
#       genrec.json holds the test row and full command; NAME labels the variant. MINUTES 0:
#       no time budget; a run cut off by the end of a call resumes from its state file in the
#       next call on the same machine.
#   scripts/recipe_gpu.sh pack OUT.tgz  — the run records (runs/: each run's genrec.json and
#       SASRec's rows) and logs, for `genrec bench-recipe runs/`. Bring the tokenizer stores
#       back too (one file per dataset: a device call returns files of ≤ 16 MiB) and carry them
#       to later calls: tokenize is not yet bit-reproducible, and every seed must train on the
#       same store.
# Needs GENREC_DATA_DIR and, for text signals without the MiniLM package, its embeddings in
# artifacts/cache/text (both carried). Logs go to build/recipe/logs/.
set -uo pipefail
phase=$1
shift
logs=build/recipe/logs
mkdir -p "$logs"
status=0
pids=()
case "$phase" in
prep)
    for dataset in "$@"; do
        (
            for seed in 0 1 2; do
                rows=build/recipe/sasrec-$dataset-s$seed.json
                [ -f "$rows" ] && continue
                art=$([ "$seed" = 0 ] && echo artifacts || echo "build/recipe/art-s$seed")
                python3 -m genrec baselines -d "$dataset" --seed "$seed" --device cuda \
                    --artifacts "$art" --report "$rows" --no-progress \
                    >"$logs/sasrec-$dataset-s$seed.log" 2>&1 &
            done
            wait
            if ! ls -d "tokenizer_store/$dataset"/v* >/dev/null 2>&1; then
                python3 -m genrec tokenize -d "$dataset" --device cuda --no-progress \
                    >"$logs/tokenize-$dataset.log" 2>&1
            fi
        ) &
        pids+=($!)
    done
    ;;
train)
    minutes=$1
    shift
    for spec in "$@"; do
        read -r dataset seed name extra <<<"$spec"
        out=checkpoints/recipe/$dataset-$name-s$seed
        [ -d "$out" ] && continue
        resume=$([ -f "$out.state.pt" ] && echo --resume)  # a run an earlier call cut off
        budget=$([ "$minutes" = 0 ] || echo "--time-budget $minutes")
        # shellcheck disable=SC2086
        python3 -m genrec train -d "$dataset" --seed "$seed" $extra --device cuda \
            $budget $resume --no-progress --out "$out" \
            >"$logs/train-$dataset-$name-s$seed.log" 2>&1 &
        pids+=($!)
    done
    ;;
pack)
    # The run records as `genrec bench-recipe` reads them (reports/recipe_runs/ once unpacked).
    runs=build/recipe/runs
    mkdir -p "$runs"
    cp build/recipe/sasrec-*.json "$runs"/ 2>/dev/null
    for ckpt in checkpoints/recipe/*/; do
        [ -f "$ckpt/genrec.json" ] && mkdir -p "$runs/$(basename "$ckpt")" &&
            cp "$ckpt/genrec.json" "$runs/$(basename "$ckpt")/"
    done
    tar -czf "$1" -C build/recipe runs logs
    exit 0
    ;;
*)
    echo "usage: $0 prep|train|pack ..." >&2
    exit 2
    ;;
esac
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
