#!/usr/bin/env bash
# Issue #13's runs on one machine with several GPUs (e.g. nvidia-h100-x4), from the repository
# root with the data in $GENREC_DATA_DIR and Beauty's tokenizer store in tokenizer_store/:
# training scale-out (reports/scaling.*) for N = 1..GPUS on Beauty and on the synthetic
# catalogue ten times larger, DDP and FSDP, the ~25M and ~200M decoders; then serving
# scale-out (reports/serving_scaling.*) through the gateway with Triton on 1..GPUS GPUs.
# Usage: GPUS=4 scripts/scaling_gpu.sh        (GPUS=2 on a two-GPU machine)
set -euo pipefail
gpus=${GPUS:-4}
counts=$(seq -s, 1 "$gpus")
export PYTHONPATH=${PYTHONPATH:-$PWD} NCCL_NVLS_ENABLE=0  # NVLink multicast stays off
[ -d tokenizer_store/synthetic-x10 ] ||
    python3 -m genrec tokenize -d synthetic-x10 --device cuda --no-progress
python3 -m genrec bench-scaling --datasets beauty,synthetic-x10 --sizes 26m,200m \
    --strategies ddp,fsdp --gpus "$counts" --device cuda
gpu_args=()
for n in $(seq 1 "$gpus"); do gpu_args+=(--gpus "$n"); done
DATASET=beauty SIZE=26m EPOCHS=1 scripts/stack_gpu.sh bench-serve --gpu "${gpu_args[@]}" \
    --workers 12 --clients 4 --concurrency 128 --concurrency 512 --concurrency 1024 \
    --setting "Beauty 26m, serving scale-out"
