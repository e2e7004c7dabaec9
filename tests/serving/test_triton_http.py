"""The gateway's Triton client against the test stack's real Triton: what a refusal and a
missing server look like to the decoder, and readiness."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from genrec.contract import HISTORY, ITEMS, OUTPUTS, K
from genrec.local_stack import free_port
from service.triton_http import TritonError, TritonHTTP

INPUTS = [(HISTORY, np.array([[1, 2, 3]], np.int64)), (K, np.array([[4]], np.int32))]


def _run(url: str, call):
    async def go():
        client = TritonHTTP(url)
        try:
            return await call(client)
        finally:
            await client.close()

    return asyncio.run(go())


def test_an_answer_a_refusal_and_readiness(stack):
    url = stack.settings_env()["GENREC_TRITON_URL"]
    outputs, version = _run(url, lambda c: c.infer("genrec", "", INPUTS, list(OUTPUTS), 30))
    assert outputs[ITEMS.name].shape == (1, 4) and version == "1"
    with pytest.raises(TritonError) as refused:
        _run(url, lambda c: c.infer("no-such-model", "", INPUTS, list(OUTPUTS), 30))
    assert refused.value.refused and refused.value.status == 404
    assert _run(url, lambda c: c.model_ready("genrec", 5))
    assert not _run(url, lambda c: c.model_ready("no-such-model", 5))


def test_no_server_is_no_answer_not_a_refusal():
    url = f"127.0.0.1:{free_port()}"
    with pytest.raises(TritonError) as missing:
        _run(url, lambda c: c.infer("genrec", "", INPUTS, list(OUTPUTS), 2))
    assert missing.value.status is None and not missing.value.refused
    assert not _run(url, lambda c: c.model_ready("genrec", 2))
    with pytest.raises(ValueError, match="expected host:port"):
        TritonHTTP("triton-without-a-port")
