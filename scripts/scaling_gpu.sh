#!/usr/bin/env bash
# Issue #13's runs on one machine with several GPUs (e.g. nvidia-h100-x4), from the repository
# root with the data in $GENREC_DATA_DIR and the tokenizer stores in tokenizer_store/ (carry
# tokenizer_store/synthetic-x10 too: building it takes ~5 of a call's 10 minutes), for
# N = 1, 2, 4, 8 GPUs up to GPUS:
#   train — training scale-out (reports/scaling.*) on Beauty and on the synthetic catalogue ten
#       times larger, DDP and FSDP, the ~200M and ~25M decoders (at GPUS=4 more than one
#       10-minute call: rows are written one by one, so a cut-off call keeps what it measured);
#   probe — where a 200m DDP step's time goes at 1 and GPUS GPUs (--profile), with bf16
#       gradient all-reduce (ddp-bf16) and the compiled decoder (--compile) beside plain DDP;
#   serve — serving scale-out (reports/serving_scaling.*): the gateway in front of Triton on
#       1..GPUS GPUs, closed-loop load from low to past the p99 bound.
# Usage: GPUS=4 scripts/scaling_gpu.sh train        (SIZES=26m: only the ~25M decoder;
#                                                   BATCH=1024: global batch, default 512)
#        GPUS=4 scripts/scaling_gpu.sh probe
#        GPUS=4 TRITON_PER_GPU=1 WORKERS=32 CLIENTS=12 DURATION=10 scripts/scaling_gpu.sh serve
set -euo pipefail
phase=$1
gpus=${GPUS:-2}
counts=()  # the issue's GPU counts: 1, 2, 4, 8 up to GPUS
for n in 1 2 4 8; do [ "$n" -le "$gpus" ] && counts+=("$n"); done
export PYTHONPATH=${PYTHONPATH:-$PWD} NCCL_NVLS_ENABLE=0  # NVLink multicast stays off
if [ "$phase" = train ]; then
    # Text signals only: throughput does not depend on the IDs' quality, and the collaborative
    # signal's SASRec over 50,000 users took most of a 10-minute call. Carry the MiniLM cache
    # (artifacts/cache/text) or the store itself where the GPU box lacks the MiniLM package.
    # The larger decoder first, Beauty first: a call cut off at 10 minutes keeps the bar's rows.
    for size in ${SIZES:-200m 26m}; do
        for dataset in beauty synthetic-x10; do
            [ -d "tokenizer_store/$dataset" ] ||
                python3 -m genrec tokenize -d "$dataset" --signals text --device cuda --no-progress
            python3 -m genrec bench-scaling --datasets "$dataset" --sizes "$size" \
                --strategies ddp,fsdp --gpus "$(IFS=,; echo "${counts[*]}")" \
                --batch-size "${BATCH:-512}" --device cuda
        done
    done
elif [ "$phase" = probe ]; then
    # The ~150M bar's gap: profile where a DDP step's time goes at 1 and GPUS GPUs, and try
    # what should shrink its fixed part, bf16 gradient all-reduce and the compiled decoder.
    for compile in --no-compile --compile; do
        python3 -m genrec bench-scaling --datasets beauty --sizes 200m \
            --strategies ddp,ddp-bf16 --gpus "1,$gpus" --device cuda --profile "$compile"
    done
else
    # TRITON_PER_GPU=1: one Triton server per GPU behind the gateway, instead of one Triton
    # with instances on every GPU.
    gpu_args=()
    for n in "${counts[@]}"; do gpu_args+=(--gpus "$n"); done
    [ "${TRITON_PER_GPU:-0}" = 1 ] && gpu_args+=(--triton-per-gpu)
    # Closed-loop levels: from SEARCH_FROM in flight, doubled until p99 passes 50 ms, then
    # bisected REFINE times; or the fixed grid LEVELS. WORKERS, CLIENTS and DURATION size the
    # sweep to the host.
    levels=(--search-from "${SEARCH_FROM:-64}" --refine "${REFINE:-2}")
    if [ -n "${LEVELS:-}" ]; then
        levels=()
        for c in $LEVELS; do levels+=(--concurrency "$c"); done
    fi
    DATASET=beauty SIZE=26m EPOCHS=1 scripts/stack_gpu.sh bench-serve --gpu "${gpu_args[@]}" \
        --workers "${WORKERS:-16}" --clients "${CLIENTS:-6}" --duration "${DURATION:-15}" \
        "${levels[@]}" --setting "Beauty 26m, serving scale-out"
fi
