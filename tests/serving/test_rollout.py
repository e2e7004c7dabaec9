"""A rollout under traffic: `genrec export` adds version 2 while pages are being served;
Triton loads it by itself (repository polling), the gateway reads its catalogue in the
background and switches, and no page fails or mixes catalogues. Version 2's catalogue renames
every item (`v2:` + id), so a page decoded by one version and mapped through the other's
catalogue would show at once."""

from __future__ import annotations

import shutil
import threading
import time

import httpx

from genrec.bench.reliability import renamed_version
from genrec.local_stack import running_stack

REC = "/v1/recommendations"


def test_a_new_version_rolls_out_under_traffic(exported, small_synthetic, tmp_path):
    repo = tmp_path / "model_repo"
    shutil.copytree(exported, repo)
    users = [u.id for u in small_synthetic.users[100:140]]
    pages: list[tuple[int, str, list[str]]] = []
    done = threading.Event()

    def traffic(url: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            n = 0
            while not done.is_set():
                r = client.post(REC, json={"user_id": users[n % len(users)], "page_size": 5})
                body = r.json() if r.status_code == 200 else {}
                ids = [i["item_id"] for i in body.get("items", [])]
                pages.append((r.status_code, body.get("model_version", r.text), ids))
                n += 1

    env = {"GENREC_CATALOG_POLL_S": "0.5"}
    with running_stack(repo, tmp_path / "stack", small_synthetic, gateway_env=env) as stack:
        sender = threading.Thread(target=traffic, args=(stack.url,))
        sender.start()
        try:
            time.sleep(2)
            renamed_version(repo / "genrec", "1", "2", "v2:")
            deadline = time.monotonic() + 90
            while not any(version == "genrec:2" for _, version, _ in pages[-5:]):
                assert time.monotonic() < deadline, "the gateway never served version 2"
                time.sleep(0.5)
            time.sleep(2)
        finally:
            done.set()
            sender.join()
        log = (stack.workdir / "logs" / "gateway.log").read_text()
    assert {status for status, _, _ in pages} == {200}, [p for p in pages if p[0] != 200][:3]
    versions = [version for _, version, _ in pages]
    assert set(versions) == {"genrec:1", "genrec:2"}  # never a fallback page
    first_v2 = versions.index("genrec:2")
    assert "genrec:1" not in versions[first_v2:]  # one switch, never back
    for _, version, ids in pages:
        assert len(ids) == 5
        assert all(i.startswith("v2:") for i in ids) == (version == "genrec:2"), (version, ids)
    assert "switched from version 1 to 2" in log
