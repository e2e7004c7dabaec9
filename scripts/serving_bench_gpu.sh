#!/usr/bin/env bash
# reports/serving_bench.* on a GPU machine that cannot install packages: unpack what
# .gpustack/ carries (tritonserver bundle from ../shared/tools/triton-bundle.sh, the gateway's
# wheels, a redis-server binary), train the decoder named by $SIZE on $DATASET for $EPOCHS
# epochs with an existing tokenizer store, export it, and run `genrec bench-serve --gpu`
# with the remaining arguments.
# Usage: DATASET=beauty SIZE=26m EPOCHS=1 scripts/serving_bench_gpu.sh --concurrency 256 ...
set -euo pipefail
mkdir -p /tmp/tri /tmp/site
tar -xJf .gpustack/triton.tar.xz -C /tmp/tri
xz -dc .gpustack/redis-server.xz >/tmp/redis-server && chmod +x /tmp/redis-server
python3 -m pip install -q --upgrade --no-index --no-deps --no-compile --target /tmp/site .gpustack/whl/*.whl
export PYTHONPATH=/tmp/site:$PWD GENREC_TRITON_HOME=/tmp/tri GENREC_REDIS_SERVER=/tmp/redis-server
python3 -c "import service.main, tritonclient.grpc.aio"  # the gateway imports: fail early
ckpt=checkpoints/$DATASET-$SIZE-serving
rm -rf "$ckpt" "$ckpt.state.pt"
python3 -m genrec train -d "$DATASET" --size "$SIZE" --epochs "$EPOCHS" --eval-users 500 \
    --device cuda --no-progress --out "$ckpt"
python3 -m genrec export "$ckpt"
python3 -m genrec bench-serve --gpu "$@"
