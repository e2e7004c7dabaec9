#!/usr/bin/env bash
# The serving stack's benchmarks (reports/serving_bench.*, reports/loadtest.*) on a GPU machine
# that cannot install packages: unpack what .gpustack/ carries (tritonserver bundle from
# ../shared/tools/triton-bundle.sh, the gateway's wheels in whl/, Locust's in locust/, a
# redis-server binary), train the decoder named by $SIZE on $DATASET for $EPOCHS epochs with an
# existing tokenizer store, export it, and run `genrec` with the remaining arguments.
# Usage: DATASET=beauty SIZE=26m EPOCHS=1 scripts/stack_gpu.sh bench-serve --gpu --concurrency 256
#        DATASET=beauty SIZE=26m EPOCHS=1 scripts/stack_gpu.sh loadtest --gpu --users 200,800
set -euo pipefail
mkdir -p /tmp/tri /tmp/site
tar -xJf .gpustack/triton.tar.xz -C /tmp/tri
xz -dc .gpustack/redis-server.xz >/tmp/redis-server && chmod +x /tmp/redis-server
python3 -m pip install -q --upgrade --no-index --no-deps --no-compile --target /tmp/site \
    .gpustack/whl/*.whl $(ls .gpustack/locust/*.whl 2>/dev/null)
export PYTHONPATH=/tmp/site:$PWD GENREC_TRITON_HOME=/tmp/tri GENREC_REDIS_SERVER=/tmp/redis-server
python3 -c "import service.main"  # the gateway imports: fail early
ckpt=checkpoints/$DATASET-$SIZE-serving
rm -rf "$ckpt" "$ckpt.state.pt"
python3 -m genrec train -d "$DATASET" --size "$SIZE" --epochs "$EPOCHS" --eval-users 500 \
    --device cuda --no-progress --out "$ckpt"
python3 -m genrec export "$ckpt"
python3 -m genrec "$@"
