"""A user's own files: every format reads back what was written, the preparation rules do what
genrec.data.prepare says, `-d PATH` works where `-d NAME` does, and the named loaders' data
comes back identical through the file path."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from genrec.contract import STORE_FILES, VERSION_FILES
from genrec.data import Dataset, DataSource, Item, User, load_dataset, load_recorded
from genrec.data.cache import using_cache
from genrec.data.tables import write_tables
from genrec.tokenizer.extend import COPIES_KEY


def _genrec(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genrec", *args],
        capture_output=True, text=True, timeout=600, cwd=cwd,
    )  # fmt: skip


def _same(a: Dataset, b: Dataset) -> None:
    assert [i for i in a.items] == [i for i in b.items]
    assert [u.id for u in a.users] == [u.id for u in b.users]
    for x, y in zip(a.users, b.users, strict=True):
        assert np.array_equal(x.items, y.items)
        for extra in ("ratings", "timestamps"):
            left, right = getattr(x, extra), getattr(y, extra)
            assert (left is None) == (right is None)
            if left is not None:
                assert np.array_equal(left, right)


@pytest.fixture(scope="module")
def small() -> Dataset:
    """Three users, with text, ratings and Unix timestamps, string ids."""
    items = [
        Item("a1", "Red lipstick", "Acme", ("Beauty", "Lips"), 9.5, "A red one"),
        Item("b2", "Blue shampoo", None, ("Hair",), None, None),
        Item("c3", "Green soap", "Soapy", (), 3.0, None),
        Item("d4", None, None, (), None, None),
    ]
    users = [
        User("u9", np.array([0, 1, 2, 3]), np.array([5, 4, 3, 2], np.float32),
             np.array([100, 200, 300, 400])),
        User("u2", np.array([2, 0, 1]), np.array([1, 2, 3], np.float32), np.array([10, 20, 30])),
        User("u5", np.array([3, 2, 1, 0, 2]), np.array([1, 1, 1, 1, 5], np.float32),
             np.array([7, 8, 9, 10, 11])),
    ]  # fmt: skip
    return Dataset("small", items, users)


def _as(fmt: str, dataset: Dataset, folder: Path) -> tuple[Path, Path]:
    """The dataset's tables rewritten as `fmt` (CSV is what write_tables writes)."""
    inter, items = write_tables(dataset, folder)
    if fmt == ".csv":
        return inter, items
    out = []
    for path in (inter, items):
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        target = path.with_suffix(fmt)
        if fmt == ".tsv":
            with target.open("w", encoding="utf-8", newline="") as f:
                writer = csv.DictWriter(f, list(rows[0]), delimiter="\t")
                writer.writeheader()
                writer.writerows(rows)
        elif fmt == ".jsonl":
            target.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        elif fmt == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows), target)
        out.append(target)
    return out[0], out[1]


@pytest.mark.parametrize("fmt", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_table_round_trip(fmt, small, tmp_path):
    inter, items = _as(fmt, small, tmp_path)
    read = load_dataset(DataSource(dataset=str(inter), items=str(items), k_core=0))
    # Users come back in first-appearance order (their ids are not numbers), items in the
    # items table's order, events ordered by timestamp.
    _same(small, read)
    assert read.meta["source"]["dataset"] == str(inter.resolve())


def test_atomic_round_trip_and_mapped_columns(small, tmp_path):
    (tmp_path / "shop.inter").write_text(
        "uid:token\tsku:token\tts:float\trating:float\n"
        + "".join(
            f"{u.id}\t{small.items[i].id}\t{t}\t{r}\n"
            for u in small.users for i, t, r in zip(u.items, u.timestamps, u.ratings, strict=True)
        )
    )  # fmt: skip
    (tmp_path / "shop.item").write_text(
        "sku:token\ttitle:token_seq\tbrand:token\tcategories:token_seq\tdescription:token_seq"
        "\tprice:float\n"
        + "".join(
            f"{i.id}\t{i.title or ''}\t{i.brand or ''}\t{' '.join(i.categories)}"
            f"\t{i.description or ''}\t{'' if i.price is None else i.price}\n"
            for i in small.items
        )
    )
    source = DataSource(
        dataset=str(tmp_path), columns="user_id=uid,item_id=sku,timestamp=ts", k_core=0
    )
    read = load_dataset(source)
    _same(small, read)
    assert read.name == "shop"


def test_preparation_rules(tmp_path):
    """Duplicates dropped, ties in file order, events filtered, the k-core repeated."""
    path = tmp_path / "log.csv"
    path.write_text(
        "user_id,item_id,timestamp,event\n"
        "7,x,5,view\n"
        "7,y,5,view\n"  # a tie with the row above: file order
        "7,x,5,view\n"  # a duplicate of the first row
        "7,z,1,view\n"
        "7,w,9,cart\n"
        "3,x,2,view\n"
        "3,y,3,view\n"
        "3,y,4,view\n"  # the same item again, later: kept
        "10,q,1,view\n"  # q appears once: gone at k = 2, and then user 10 with it
        "10,x,2,view\n"
    )
    read = load_dataset(DataSource(dataset=str(path), k_core=2, events="view"))
    assert [u.id for u in read.users] == ["3", "7"]  # numeric ids: numeric order
    assert [i.id for i in read.items] == ["x", "y"]  # z falls to the 2-core, w to --events
    seqs = {u.id: [read.items[i].id for i in u.items] for u in read.users}
    assert seqs == {"3": ["x", "y", "y"], "7": ["x", "y"]}
    kept = read.meta["filtered"]
    assert kept["duplicates"] == 1 and kept["events_dropped"] == 1
    assert kept["kcore_users_dropped"] == 1 and kept["kcore_interactions_dropped"] == 3

    untimed = tmp_path / "clicks.csv"
    untimed.write_text("user_id,item_id\nb,1\nb,1\nb,2\na,2\nb,1\n")
    read = load_dataset(DataSource(dataset=str(untimed), k_core=0))
    assert [u.id for u in read.users] == ["b", "a"]  # first appearance
    # Without timestamps, only a repeat of the previous item is a duplicate.
    assert [read.items[i].id for i in read.users[0].items] == ["1", "2", "1"]


def test_cache_hit_reads_the_same(small, tmp_path):
    inter, items = write_tables(small, tmp_path)
    source = DataSource(dataset=str(inter), items=str(items), k_core=0)
    with using_cache(tmp_path / "cache"):
        first, dropped = source.prepared()
        again, from_cache = source.prepared()
        assert dropped is not None and from_cache is None  # parsed once, then from the cache
        _same(first, again)
        inter.write_text(inter.read_text() + "u2,d4,40,1\n")  # new content, new cache entry
        changed, dropped = source.prepared()
        assert dropped is not None and changed.n_interactions == first.n_interactions + 1


def test_movielens_atomic_files_equal_the_named_loader(data_dir, real_dataset):
    from genrec.bench.byo_data import DataBench, equivalence

    named = real_dataset("ml-100k")
    read = load_dataset(DataSource(dataset=str(data_dir / "movielens-100k"), k_core=0))
    _same(named, read)
    row = equivalence(named, read, "atomic", DataBench(sasrec_epochs=1), torch.device("cpu"))
    assert row["identical"], row


def test_beauty_as_plain_tables_equals_the_named_loader(real_dataset, tmp_path):
    from genrec.bench.byo_data import DataBench, equivalence

    named = real_dataset("beauty")
    inter, items = write_tables(named, tmp_path)
    read = load_dataset(DataSource(dataset=str(inter), items=str(items)))  # the default 5-core
    _same(named, read)
    row = equivalence(named, read, "tables", DataBench(sasrec_epochs=1), torch.device("cpu"))
    assert row["identical"], row


def test_dash_d_path_in_the_cli(small, tmp_path):
    inter, items = write_tables(small, tmp_path / "shop")
    result = _genrec("data", "inspect", str(inter), "--items", str(items), "--k-core", "0")
    assert result.returncode == 0, result.stderr
    assert "evaluated_users" in result.stdout and "from_cache" in result.stdout
    result = _genrec("baselines", "-d", str(inter), "--model", "popularity", "--no-progress")
    # the default 5-core leaves nothing of three users: a clear line, not a traceback
    assert result.returncode == 2
    assert "no users left after the 5-core filter" in result.stderr
    assert "Traceback" not in result.stderr
    # the reading options of `data inspect` are the baselines' too
    result = _genrec(
        "baselines", "-d", str(inter), "--items", str(items), "--k-core", "0",
        "--model", "popularity", "--no-progress",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "popularity" in result.stdout


def test_source_is_recorded_for_later_commands(small, tmp_path):
    inter, items = write_tables(small, tmp_path)
    source = DataSource(dataset=str(inter), items=str(items), k_core=0)
    dataset = load_dataset(source)
    record = {"dataset": dataset.name, "data_source": dataset.meta["source"]}
    _same(dataset, load_recorded(json.loads(json.dumps(record))))
    assert load_recorded({"dataset": "synthetic"}).name == "synthetic"


def _write_atomic(dataset: Dataset, folder: Path, name: str) -> Path:
    """`dataset` as RecBole atomic files `name.inter` (with timestamps) and `name.item`."""
    folder.mkdir(parents=True)
    lines = ["user_id:token\titem_id:token\ttimestamp:float\n"]
    for user in dataset.users:
        lines += [
            f"{user.id}\t{dataset.items[i].id}\t{1000 + n}\n" for n, i in enumerate(user.items)
        ]
    (folder / f"{name}.inter").write_text("".join(lines))
    items = ["item_id:token\ttitle:token_seq\tbrand:token\n"]
    items += [f"{i.id}\t{i.title or ''}\t{i.brand or ''}\n" for i in dataset.items]
    (folder / f"{name}.item").write_text("".join(items))
    return folder


RUN_ARGS = (
    "run", "shop", "--size", "tiny", "--epochs", "1", "--eval-users", "50",
    "--sasrec-epochs", "2", "--tokenizer", "rqkmeans", "--no-progress",
)  # fmt: skip


@pytest.fixture(scope="module")
def quickstart(small_synthetic, tmp_path_factory):
    """`genrec run` once on generated atomic files in a fresh folder → (folder, its output)."""
    root = tmp_path_factory.mktemp("quickstart")
    _write_atomic(small_synthetic, root / "shop", "shop")
    return root, _genrec(*RUN_ARGS, cwd=root)


def test_genrec_run_end_to_end_and_resumed(quickstart):
    """`genrec run` on generated atomic files: every stage, a final table beside SASRec's, an
    export that names where its data came from; run again, every stage is skipped."""
    tmp_path, first = quickstart
    assert first.returncode == 0, first.stderr
    for n, stage in enumerate(("baselines", "tokenizer", "decoder", "export"), start=1):
        assert f"stage {n}/4: {stage}" in first.stdout
    table = first.stdout[first.stdout.index("shop: test split") :]
    assert all(model in table for model in ("popularity", "sasrec", "decoder-tiny"))
    repo = tmp_path / "model_repo" / "genrec"
    # A repository made outside the checkout gets the model's configuration, so Triton loads it.
    assert (repo / "config.pbtxt").is_file() and (repo / "1" / "model.py").is_file()
    info = json.loads((repo / "1" / "export.json").read_text())
    assert info["dataset"] == "shop"
    assert info["data_source"] == {"dataset": str((tmp_path / "shop").resolve())}
    served = load_recorded(info)  # what `genrec serve` loads histories from
    assert served.fingerprint() == load_dataset(str(tmp_path / "shop")).fingerprint()

    again = _genrec(*RUN_ARGS, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "stage " not in again.stdout
    assert "done before: baselines, tokenizer, decoder, export" in again.stdout
    assert not (repo / "2").exists()


def test_catalog_add_serves_new_items_without_a_restart(quickstart):
    """`genrec catalog add` while the stack serves: new items get unique SIDs beside the old
    ones (which keep theirs), Triton and the gateway move to the new version by themselves,
    and the new items come up, decoded by the model, in the user's pages. The new items are
    new editions of the user's top items, so their text puts them beside those in the trie."""
    import httpx

    from genrec.local_stack import running_stack

    root, built = quickstart
    assert built.returncode == 0, built.stderr
    repo = root / "model_repo"
    shop = load_recorded(json.loads((repo / "genrec" / "1" / "export.json").read_text()))
    user = shop.users[0].id
    env = {"GENREC_CATALOG_POLL_S": "0.5"}
    with (
        running_stack(repo, root / "stack", shop, gateway_env=env) as stack,
        httpx.Client(base_url=stack.url, timeout=30) as client,
    ):

        def page(token: str | None = None) -> dict:
            body = {"user_id": user, "page_size": 50, "page_token": token}
            r = client.post("/v1/recommendations", json=body)
            assert r.status_code == 200, r.text
            return r.json()

        before = page()
        assert before["model_version"] == "genrec:1"
        top = before["items"][:3]
        (root / "new.jsonl").write_text(
            "".join(
                json.dumps({"item_id": f"NEW{n}", "title": f"{i['title']} (new edition)"}) + "\n"
                for n, i in enumerate(top)
            )
        )
        added = _genrec("catalog", "add", "new.jsonl", "--no-progress", cwd=root)
        assert added.returncode == 0, added.stderr
        deadline = time.monotonic() + 120
        while (after := page())["model_version"] != "genrec:2":
            assert time.monotonic() < deadline, "the stack never served version 2"
            time.sleep(0.5)
        # Paging on ranks the whole catalogue for the user (each page excludes the earlier
        # ones): the new items come up in it, decoded by the model, not as a fallback.
        shown = []
        while True:
            assert after["model_version"] == "genrec:2"
            shown += [(i["item_id"], i["score"]) for i in after["items"]]
            if after["next_page_token"] is None or any(i.startswith("NEW") for i, _ in shown):
                break
            after = page(after["next_page_token"])
    held = repo / "genrec" / "2" / VERSION_FILES.tokenizer_store
    store = json.loads((held / STORE_FILES.items).read_text())
    assert store[: shop.n_items] == [i.id for i in shop.items] and store[-3:] == [
        "NEW0", "NEW1", "NEW2",
    ]  # fmt: skip
    rows = load_file(str(held / STORE_FILES.item_sids))[STORE_FILES.sids_tensor].numpy()
    assert len(np.unique(rows, axis=0)) == len(rows)  # every SID unique
    # The copied collision tokens are recorded, for the next add to reuse: each new item's
    # token is one of them, and each copies a token the trained items use.
    copies = json.loads((held / STORE_FILES.manifest).read_text())[COPIES_KEY]
    assert {int(rows[n, -1]) for n in range(-3, 0)} <= {int(c) for c in copies}
    assert set(copies.values()) <= set(rows[: shop.n_items, -1].tolist())
    new = [(rank, score) for rank, (i, score) in enumerate(shown, 1) if i.startswith("NEW")]
    assert new and all(score is not None for _, score in new), shown


def test_added_item_scores_as_the_item_whose_path_it_takes():
    """`catalog add`'s decoder rows: a new item's copied collision token makes the decoder
    give it its template's SID log-probabilities, token by token, for any history; rows of
    tokens trained items use stay as they were."""
    from genrec.model.config import build_decoder
    from genrec.model.decoder import PromptConfig, SIDDecoder
    from genrec.model.vocab import SIDVocab
    from genrec.pipelines.catalog import copy_collision_rows
    from genrec.tokenizer.extend import Neighbours, collision_copies
    from genrec.tokenizer.sids import add_collision_level

    vocab = SIDVocab(sid_depth=3, codebook_size=8)
    old = add_collision_level(np.array([[1, 2], [3, 4], [1, 2], [5, 6]]))
    near = Neighbours(torch.tensor([[2, 0], [3, 1]]), torch.full((2, 2), 0.5))
    new, copies = collision_copies(old, np.array([[1, 2], [0, 0]]), near, vocab.codebook_size)
    lm = build_decoder("tiny", vocab, seed=0)
    rows = (lm.model.embed_tokens.weight, lm.lm_head.weight)
    trained = [r.detach().clone() for r in rows]
    decoder = SIDDecoder(lm, vocab, PromptConfig(), np.concatenate([old, new]))
    copy_collision_rows(decoder, copies)
    used = vocab.sid_tokens(torch.from_numpy(old)).unique()
    for before, after in zip(trained, rows, strict=True):
        assert torch.equal(before[used], after[used])
    history = torch.tensor([[0, 1, 3], [3, 2, -1]])
    assert new[:, :-1].tolist() == [[1, 2], [5, 6]]  # items 2's and 3's paths
    assert copies == {2: 0, 3: 1}
    for item, template in ((4, 2), (5, 3)):
        logp = decoder.token_logprobs(history, torch.full((2, 1), item))
        assert torch.equal(logp, decoder.token_logprobs(history, torch.full((2, 1), template)))
