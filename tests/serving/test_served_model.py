"""The model Triton runs, without Triton: what `model.py` calls for each dynamic batch."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from genrec.contract import STORE_PIN, VERSION_FILES
from genrec.engine.engine import EngineConfig
from genrec.errors import GenrecError
from genrec.serving import DecodeRequest, ServedModel


@pytest.fixture(scope="module")
def served(exported) -> ServedModel:
    return ServedModel.load(exported / "genrec" / "1", device="cpu", config=EngineConfig.served(50))


def _request(history, exclude=(), k=10, scid=None, slate=False) -> DecodeRequest:
    return DecodeRequest(
        np.asarray(history, np.int64), np.asarray(exclude, np.int64), k,
        None if scid is None else np.asarray(scid, np.int64), slate,
    )  # fmt: skip


def test_a_request_gets_the_same_items_alone_or_in_any_batch(served, small_synthetic):
    requests = [_request(u.items[-20:], k=3 + i) for i, u in enumerate(small_synthetic.users[:6])]
    together, timings = served.recommend(requests)
    assert timings.decode_us > 0 and timings.prompt_us > 0
    for request, batched in zip(requests, together, strict=True):
        (alone,), _ = served.recommend([request])
        assert alone.items.tolist() == batched.items.tolist()
        np.testing.assert_allclose(alone.scores, batched.scores, rtol=1e-5, atol=1e-5)
        assert len(batched.items) == request.k and len(set(batched.items.tolist())) == request.k
        assert (np.diff(batched.scores) <= 1e-6).all()
        items = len(request.history)
        assert batched.prompt_tokens == 1 + 3 + 2 * items  # BOS, user SCID, 2 per merged item


def test_exclusions_are_never_returned(served, small_synthetic):
    history = small_synthetic.users[0].items[-20:]
    (first,), _ = served.recommend([_request(history, k=20)])
    (second,), _ = served.recommend([_request(history, exclude=first.items, k=20)])
    assert not set(first.items.tolist()) & set(second.items.tolist())
    assert (second.items >= 0).all()


def test_beam_and_slate_requests_share_a_batch(served, small_synthetic):
    users = small_synthetic.users[:4]
    requests = [_request(u.items[-20:], k=7, slate=i % 2 == 1) for i, u in enumerate(users)]
    mixed, _ = served.recommend(requests)
    for request, result in zip(requests, mixed, strict=True):
        (alone,), _ = served.recommend([request])
        assert alone.items.tolist() == result.items.tolist()
        assert len(result.items) == 7 and len(set(result.items.tolist())) == 7
    beam, slate = mixed[0], mixed[1]
    assert (np.diff(beam.scores) <= 1e-6).all()  # beam: best first
    (as_beam,), _ = served.recommend([_request(users[1].items[-20:], k=7)])
    assert as_beam.items.tolist() != slate.items.tolist()  # the slate is its own decode


def _check(served, history, exclude=(), k=10, scid=None) -> str | None:
    """One row, as model.py hands a one-page request's arrays to `check_rows`."""
    why = served.check_rows(
        np.asarray([history], np.int64), np.asarray([exclude], np.int64).reshape(1, -1),
        np.asarray([k]), None if scid is None else np.asarray([scid], np.int64),
    )  # fmt: skip
    return why.get(0)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"history": [1, 2], "k": 0}, "K must be in 1..50 (the beam width), got 0"),
        ({"history": [1, 2], "k": 51}, "K must be in 1..50 (the beam width), got 51"),
        ({"history": [1, 10**6]}, "HISTORY holds item 1000000; the catalogue has"),
        ({"history": [1], "exclude": [10**6]}, "EXCLUDE holds item 1000000"),
        ({"history": [1], "scid": [1, 2]}, "USER_SCID must be 3 codes"),
        ({"history": [1], "scid": [1, 2, 9999]}, "USER_SCID must be 3 codes"),
        ({"history": [1], "scid": [1, -1, 2]}, "USER_SCID must be 3 codes"),
    ],
)
def test_bad_requests_are_named_one_by_one(served, row, reason):
    assert reason in _check(served, **row)


def test_good_rows_pass_and_a_scid_row_of_padding_is_none(served):
    assert _check(served, [1, 2, -1], exclude=[3, -1], k=50, scid=[1, 2, 3]) is None
    assert _check(served, [1], scid=[-1, -1, -1]) is None  # the average user's SCID
    assert _check(served, [-1, -1], exclude=[]) is None


def test_only_the_bad_rows_of_a_request_are_named(served):
    """A multi-page request's rows checked together: each bad row named by its index, with
    its first reason; good rows absent."""
    n = len(served.store.item_ids)
    history = np.array([[1, 2], [n, 1], [3, -1], [4, 5]])
    k = np.array([10, 10, 0, 99])
    why = served.check_rows(history, None, k, None)
    assert list(why) == [1, 2, 3]
    assert why[1].startswith(f"HISTORY holds item {n}") and why[3].endswith("got 99")


def test_a_pinned_store_version_must_match(exported):
    with pytest.raises(GenrecError, match="pins synthetic/v9"):
        ServedModel.load(exported / "genrec" / "1", device="cpu", store_version="synthetic/v9")


def test_a_version_whose_export_pins_another_store_is_refused(exported, tmp_path):
    """The pin is the version's export.json, written by `genrec export` (not the tracked
    configuration): a folder whose store is not the one it was exported with never serves."""
    version = shutil.copytree(exported / "genrec" / "1", tmp_path / "1")
    info = json.loads((version / VERSION_FILES.export).read_text())
    assert info[STORE_PIN] == "synthetic/v1"
    info[STORE_PIN] = "synthetic/v9"
    (version / VERSION_FILES.export).write_text(json.dumps(info))
    with pytest.raises(GenrecError, match=f"{VERSION_FILES.export} pins synthetic/v9"):
        ServedModel.load(version, device="cpu")


def test_cpu_instances_share_the_cores_but_one():
    """Each CPU instance is its own process: together they leave a core to Triton's own
    threads and the gateway, and never run with fewer than one thread."""
    from genrec.serving import cpu_threads

    assert cpu_threads(2, cores=2) == 1 and cpu_threads(2, cores=16) == 7
    assert cpu_threads(1, cores=1) == 1 and cpu_threads(0, cores=4) == 3
