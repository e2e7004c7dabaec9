#!/usr/bin/env bash
# Issue #28's whole-box serving rows (reports/serving_bench.*) on one GPU machine, load
# generator included: scripts/stack_gpu.sh's environment (carry .gpustack, .gpudata and
# tokenizer_store/beauty), a Beauty 26m decoder trained one epoch without the SASRec teacher
# (only its speed matters here) unless checkpoints/ already holds it, then `genrec bench-serve`
# once per gateway setting named in $SETTINGS, all on the same model in the same run:
#   batched   — the gateway's default: the pages waiting in a worker share one Triton request
#   unbatched — one Triton request per page (GENREC_TRITON_MAX_BATCH=1), the way before
#   calls16   — batched, with 16 Triton calls in flight per worker instead of 4
#   local-limit — batched, with the rate limit kept per process instead of in Redis
# and, for each, once per model configuration named in $TRITON_CONFIGS (`;`-separated
# `genrec bench-serve` override options; an empty entry is the repository's own config):
# Usage: SETTINGS="batched unbatched" WORKERS="8 16" scripts/serving_box.sh --concurrency 256 ...
#        TRITON_CONFIGS="; --batch-buckets 1,2,4,8,16,32,48,64,96,128,192,256; --triton-instances 1"
#            SETTINGS=batched scripts/serving_box.sh --concurrency 512 --duration 10 --clients 6
# (any other `genrec bench-serve` option passes on)
set -euo pipefail
if [ ! -x /tmp/redis-server ]; then
    mkdir -p /tmp/tri /tmp/site
    tar -xJf .gpustack/triton.tar.xz -C /tmp/tri
    xz -dc .gpustack/redis-server.xz >/tmp/redis-server && chmod +x /tmp/redis-server
    python3 -m pip install -q --upgrade --no-index --no-deps --no-compile --target /tmp/site \
        .gpustack/whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD GENREC_TRITON_HOME=/tmp/tri GENREC_REDIS_SERVER=/tmp/redis-server
python3 -c "import service.main"  # the gateway imports: fail early
ckpt=checkpoints/beauty-26m-serving
if [ ! -f "$ckpt/genrec.json" ]; then
    python3 -m genrec train -d beauty --size 26m --epochs 1 --distill 0 --eval-users 500 \
        --device cuda --no-progress --out "$ckpt"
    python3 -m genrec export "$ckpt"
fi
workers=()
for w in ${WORKERS:-16}; do workers+=(--workers "$w"); done
for setting in ${SETTINGS:-batched unbatched}; do
    case $setting in
        batched) env=() label="Beauty 26m, one H200 box, pages batched per worker" ;;
        unbatched) env=(GENREC_TRITON_MAX_BATCH=1 GENREC_TRITON_MAX_CALLS=100000)
            label="Beauty 26m, one H200 box, one page per Triton request" ;;
        calls16) env=(GENREC_TRITON_MAX_CALLS=16)
            label="Beauty 26m, one H200 box, pages batched, 16 calls in flight per worker" ;;
        local-limit) env=(GENREC_RATE_LIMIT_SCOPE=process)
            label="Beauty 26m, one H200 box, pages batched, rate limit per process" ;;
        *) echo "unknown setting $setting" >&2; exit 2 ;;
    esac
    IFS=';' read -ra configs <<<"${TRITON_CONFIGS:-}"
    [ ${#configs[@]} -gt 0 ] || configs=("")
    for config in "${configs[@]}"; do
        read -ra overrides <<<"$config"
        env "${env[@]}" python3 -m genrec bench-serve --gpu "${workers[@]}" --setting "$label" \
            "${overrides[@]}" "$@"
    done
done
