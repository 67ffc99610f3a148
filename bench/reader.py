"""Reader throughput against a bare pyarrow.parquet scan of the same shards (the floor).

Usage: python bench/reader.py [--quick] [--rows N] [--batch-size B] [--row-group R]
                              [--reader PATH] [--tokenizer SPEC ...] [--only packed|documents]

Both sides produce the same items (per-rank batches of ``batch_size`` rows: compact Arrow
arrays for text, numpy for numbers), so the ratio measures the reader's own overhead: planning,
row-group seeks and slicing. The goal is reader time / floor time <= 1.5.

Then per-rank I/O: for rank 1 of 4 (in-process, and with 2 DataLoader workers), samples/s
and the parquet row groups and decoded bytes it reads, against its share (the whole
version's / world_size), counted by wrapping ``ParquetFile.read_row_group``. ``--reader``
loads another reader module (e.g. a previous reader.py) to compare before/after.

Packed tokens: for each tokenizer (``bytes`` and a BPE trained here on the same text, or
``--tokenizer`` specs), tokens/s of the bare tokenizer on the same Arrow text blocks (the
floor), of ``PackedDataset`` in-process and with 1 and 2 DataLoader workers, and of
``PackedDataset`` on a token export. Goals: in-process >= 0.9x the bare tokenizer; 2 workers
>= 1.5x one (needs two idle cores).

Shared machines have slow spells of seconds (the same BPE pass varies by a third in CPU
time), so the two sides of a comparison run alternately, in rounds, and the goal is read off
the median of the rounds' ratios; the best of each side is printed too, and so is the
tokenizer's share of an in-process pass (the reader's own work is the rest), which no spell
moves.
"""

import argparse
import importlib.util
import multiprocessing
import os
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from curation import publish  # noqa: E402
from curation import reader as reader_module  # noqa: E402
from curation.machine import resident_bytes  # noqa: E402
from curation.reader import PackedDataset  # noqa: E402
from curation.reader.export.tokens import export_tokens  # noqa: E402
from curation.reader.rows import iter_items  # noqa: E402
from curation.tokens.tokenizer import load_tokenizer  # noqa: E402

LINEAGE = {
    "corpus_version": "bench",
    "score_version": "bench",
    "method": "sorted",
    "params": {},
    "seed": 0,
    "code_version": "bench",
}


def synthetic_texts(n: int, rng: np.random.Generator, mean_len: int = 400) -> pa.Array:
    """n random lowercase texts built from one byte buffer (no Python loop over rows)."""
    lengths = rng.integers(mean_len // 2, mean_len * 3 // 2, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz      ", dtype=np.uint8)
    data = alphabet[rng.integers(0, len(alphabet), int(offsets[-1]))].tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def write_shards(directory: str, rows: int, shards: int, row_group: int) -> list[str]:
    rng = np.random.default_rng(0)
    cuts = np.linspace(0, rows, shards + 1).astype(np.int64)
    paths = []
    for i in range(shards):
        pos = np.arange(cuts[i], cuts[i + 1], dtype=np.int64)
        table = pa.table(
            {
                "id": pos * 7 + 3,
                "text": synthetic_texts(len(pos), rng),
                "position": pos,
                "score": rng.random(len(pos)),
            }
        )
        path = os.path.join(directory, f"in-{i}.parquet")
        pq.write_table(table, path, row_group_size=row_group)
        paths.append(path)
    return paths


def floor_scan(paths: list[str], batch_size: int) -> int:
    """Bare scan: shards in order, whole row groups decoded, each column converted once per
    row group like the reader's output, then cut into batches of ``batch_size`` (the
    cheapest way to the same items)."""
    rows = 0
    for path in paths:
        pf = pq.ParquetFile(path)
        for g in range(pf.num_row_groups):
            table = pf.read_row_group(g)
            sizes = np.full(-(-table.num_rows // batch_size), batch_size)
            sizes[-1] = table.num_rows - batch_size * (len(sizes) - 1)
            rows += sum(len(item["text"]) for item in iter_items(table, sizes, "arrow"))
    return rows


def arrow_only_scan(paths: list[str], batch_size: int) -> int:
    """Decode only (no Python objects): how much of the floor is parquet decoding."""
    return sum(pq.ParquetFile(p).read().num_rows for p in paths)


READER = reader_module  # replaced by --reader


def load_reader(path: str):
    """A reader module from a file (an older reader.py), for before/after comparisons."""
    spec = importlib.util.spec_from_file_location("reader_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reader_scan(
    uri: str, batch_size: int, rank: int = 0, world_size: int = 1, workers: int = 0
) -> int:
    ds = READER.OrderedDataset(uri, rank=rank, world_size=world_size, batch_size=batch_size)
    if not workers:
        return sum(len(b["text"]) for b in ds)
    loader = ds.loader(num_workers=workers, multiprocessing_context="fork")
    return sum(len(b["text"]) for b in loader)


class DecodeCounter:
    """Row groups and decoded Arrow bytes through ``ParquetFile.read_row_group`` (the reader's
    only decode path), summed across forked DataLoader workers."""

    def __init__(self):
        self.groups = multiprocessing.Value("q", 0)
        self.bytes = multiprocessing.Value("q", 0)
        self._original = pq.ParquetFile.read_row_group
        counter, original = self, self._original

        def counted(pf, i, *args, **kwargs):
            table = original(pf, i, *args, **kwargs)
            with counter.groups.get_lock():
                counter.groups.value += 1
                counter.bytes.value += table.nbytes
            return table

        pq.ParquetFile.read_row_group = counted

    def reset(self) -> None:
        self.groups.value = self.bytes.value = 0

    def close(self) -> None:
        pq.ParquetFile.read_row_group = self._original


def rank_io(
    uri: str, batch_size: int, rank: int, world_size: int, workers: int, repeats: int
) -> tuple[float, int, int, int]:
    """(best wall time, rows, row groups decoded, bytes decoded) for one rank's full pass."""
    counter = DecodeCounter()
    try:
        wall, _, rows = best_of(repeats, reader_scan, uri, batch_size, rank, world_size, workers)
        counter.reset()
        reader_scan(uri, batch_size, rank, world_size, workers)
        return wall, rows, counter.groups.value, counter.bytes.value
    finally:
        counter.close()


def report_rank_io(
    uri: str, batch_size: int, total: tuple[int, int], world_size: int, workers: int, repeats: int
) -> None:
    """Print rank 1's samples/s and its decoded groups/bytes as a multiple of its share."""
    wall, rows, groups, nbytes = rank_io(uri, batch_size, 1, world_size, workers, repeats)
    share_g, share_b = total[0] / world_size, total[1] / world_size
    print(
        f"  rank 1 of {world_size}, {workers} workers: {rows / wall:10,.0f} samples/s; "
        f"decoded {groups} groups ({share_g:.1f} share, {groups / share_g:.2f}x), "
        f"{nbytes / 1e6:.1f} MB ({share_b / 1e6:.1f} share, {nbytes / share_b:.2f}x)"
    )


def cpu_with_workers(fn, *args) -> float:
    """CPU seconds of one run counting the DataLoader worker processes too (they are joined
    at the end of the pass): the cost per token of the worker path, whatever the load."""
    import resource

    def used() -> float:
        me, kids = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    before = used()
    fn(*args)
    return used() - before


def best_of(repeats: int, fn, *args) -> tuple[float, float, int]:
    """Fastest wall and CPU time of several runs (the least disturbed by other processes)."""
    wall, cpu, rows = float("inf"), float("inf"), 0
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        rows = fn(*args)
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, rows


def main() -> None:
    global READER
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small data, < 1 min")
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--row-group", type=int, default=8192)
    ap.add_argument("--reader", default=None, help="path of another reader.py to measure")
    ap.add_argument("--tokenizer", action="append", help="tokenizer spec(s) for packed")
    ap.add_argument("--only", choices=["packed", "documents"], default=None)
    args = ap.parse_args()
    if args.reader:
        READER = load_reader(args.reader)
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    repeats = 3
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_shards(tmp, rows, shards=8, row_group=args.row_group)
        pv = publish.publish_version(os.path.join(tmp, "root"), "bench", paths, LINEAGE)
        uri = os.path.join(tmp, "root", "bench")
        shard_paths = pv.shard_uris
        if args.only != "documents":
            specs = args.tokenizer or ["bytes", train_bpe(tmp, shard_paths[0])]
            rows_packed = min(rows, 20_000 if args.quick else 50_000)
            packed_uri = uri
            if rows_packed < rows:
                packed_uri = publish_subset(tmp, shard_paths, rows_packed)
            for spec in specs:
                report_packed(tmp, packed_uri, spec, repeats)
        if args.only == "packed":
            return
        t_arrow, _, _ = best_of(repeats, arrow_only_scan, shard_paths, args.batch_size)
        [(t_floor, c_floor, n_floor), (t_read, c_read, n_read)], _ = interleaved(
            repeats, (floor_scan, shard_paths, args.batch_size), (reader_scan, uri, args.batch_size)
        )
        assert n_floor == n_read == rows, (n_floor, n_read, rows)
        print(
            f"rows={rows} batch_size={args.batch_size} row_group={args.row_group} "
            f"(best of {repeats}; load average {os.getloadavg()[0]:.1f})"
        )
        print(f"  arrow-only decode : {rows / t_arrow:12,.0f} samples/s")
        print(f"  floor (pq scan)   : {rows / t_floor:12,.0f} samples/s")
        print(f"  OrderedDataset    : {rows / t_read:12,.0f} samples/s")
        print(f"ratio reader/floor wall time = {t_read / t_floor:.2f}x (goal <= 1.5x)")
        print(
            f"ratio reader/floor CPU time  = {c_read / c_floor:.2f}x (steadier on a busy machine)"
        )
        floor = (floor_scan, shard_paths, args.batch_size)
        [(t_floor2, _, _), (t_two, _, _)], rounds = interleaved(
            repeats, floor, (reader_scan, uri, args.batch_size, 0, 1, 2)
        )
        print(f"  OrderedDataset, 2 workers: {rows / t_two:12,.0f} samples/s")
        print(
            f"ratio floor/reader with 2 workers = {t_floor2 / t_two:.2f}x (goal >= 0.8x; "
            f"interleaved rounds {round_ratios(rounds, 0, 1)}; this process "
            f"holds {resident_bytes() / 2**20:,.0f} MiB, which each worker's fork copies "
            "the page tables of)"
        )
        print_rank_io(tmp, uri, args.batch_size, args.row_group, rows, repeats)


def print_rank_io(
    tmp: str, uri: str, batch_size: int, row_group: int, rows: int, repeats: int
) -> None:
    """Per-rank decode against its share: the configuration above, then one with 8x smaller
    row groups and per-rank batches of two row groups (where a rank can skip other ranks'
    groups; with small batches every rank needs rows from every group)."""
    small = max(1, row_group // 8)
    directory = os.path.join(tmp, "small")
    os.makedirs(directory)
    paths = write_shards(directory, rows, shards=8, row_group=small)
    publish.publish_version(os.path.join(tmp, "root"), "small", paths, LINEAGE)
    configs = ((uri, batch_size, row_group), (os.path.join(tmp, "root", "small"), 2 * small, small))
    for data_uri, batch, group in configs:
        _, _, groups, nbytes = rank_io(data_uri, batch, 0, 1, 0, 1)
        print(
            f"per-rank decode, batch_size={batch} row_group={group} "
            f"(whole version: {groups} groups, {nbytes / 1e6:.1f} MB):"
        )
        for workers in (0, 2):
            report_rank_io(data_uri, batch, (groups, nbytes), 4, workers, repeats)


def train_bpe(tmp: str, text_path: str, vocab: int = 8192) -> str:
    """A byte-level BPE trained on the benchmark's own text, saved as tokenizer.json."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["<|endoftext|>"], show_progress=False
    )
    texts = pq.read_table(text_path, columns=["text"]).column("text").to_pylist()[:5000]
    tok.train_from_iterator(texts, trainer)
    path = os.path.join(tmp, "tokenizer.json")
    tok.save(path)
    return "hf:" + path


def publish_subset(tmp: str, shard_paths: list[str], rows: int) -> str:
    """The first ``rows`` rows as their own version (BPE tokenizing is slower than reading)."""
    table = pq.read_table(shard_paths[0]).slice(0, rows)
    path = os.path.join(tmp, "subset.parquet")
    pq.write_table(table, path, row_group_size=max(1, rows // 32))  # blocks for 2 workers
    publish.publish_version(os.path.join(tmp, "root"), "subset", [path], LINEAGE)
    return os.path.join(tmp, "root", "subset")


def bare_tokenize(uri: str, spec: str) -> int:
    """The floor: the tokenizer alone on the same text, one row group at a time."""
    tok = load_tokenizer(spec)
    ds = READER.OrderedDataset(uri)
    total = 0
    for path in ds.shard_uris:
        pf = pq.ParquetFile(path)
        for g in range(pf.num_row_groups):
            total += len(tok.encode_batch(pf.read_row_group(g, columns=["text"])["text"])[0])
    return total


def hand_packed(uri: str, spec: str, seq_len: int = 1024, batch_size: int = 8) -> int:
    """A second floor: the shortest packer a user would write by hand (tokens with EOTs,
    one carried-over buffer, int64 batches of ``batch_size x seq_len``), no order contract,
    no resume state. Returns the tokens it batched (the last partial batch is dropped)."""
    tok, need = load_tokenizer(spec), seq_len * batch_size
    rest, total = np.empty(0, np.int64), 0
    for path in READER.OrderedDataset(uri).shard_uris:
        pf = pq.ParquetFile(path)
        for g in range(pf.num_row_groups):
            tokens, _ = tok.encode_documents(pf.read_row_group(g, columns=["text"])["text"])
            buf = np.concatenate([rest, tokens])
            full = len(buf) // need * need
            batches = torch.from_numpy(buf[:full].reshape(-1, batch_size, seq_len))
            total += sum(b.numel() for b in batches.unbind(0))
            rest = buf[full:]
    return total


def packed_scan(uri: str, spec: str | None, workers: int, timer: list | None = None) -> int:
    """Real tokens consumed; the loop itself only counts batches (a trainer's per-step work
    is not the reader's), and the padding is read off the last batch. ``timer`` (in-process
    only): a one-item list that collects the seconds spent inside the tokenizer."""
    ds = PackedDataset(uri, seq_len=1024, batch_size=8, tokenizer=spec, tail="pad")
    if timer is not None:
        encode = ds.tokenizer.encode_documents

        def timed(texts):
            t = time.perf_counter()
            out = encode(texts)
            timer[0] += time.perf_counter() - t
            return out

        ds.tokenizer.encode_documents = timed
    steps, last = 0, None
    for batch in ds.loader(workers):
        steps, last = steps + 1, batch
    if last is None:
        return 0
    padding = int((~last["loss_mask"]).sum())
    return steps * last["input_ids"].numel() - padding


def interleaved(repeats: int, *runs: tuple) -> tuple[list[tuple], list[list[float]]]:
    """Best (wall, cpu, result) of each run, the runs made alternately ``repeats`` times, and
    each round's wall times: a slow spell of the machine hits every run of a round, which
    the best of separate series does not guarantee."""
    best, rounds = [(float("inf"), float("inf"), 0)] * len(runs), []
    for _ in range(repeats):
        results = [best_of(1, *run) for run in runs]
        best = [min(b, r) for b, r in zip(best, results, strict=True)]
        rounds.append([r[0] for r in results])
    return best, rounds


def round_ratios(rounds: list[list[float]], i: int, j: int) -> str:
    """Each round's wall-time ratio run i / run j, and their median."""
    ratios = [r[i] / r[j] for r in rounds]
    return f"{', '.join(f'{x:.2f}' for x in ratios)}; median {float(np.median(ratios)):.2f}x"


def report_packed(tmp: str, uri: str, spec: str, repeats: int) -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # one thread per process
    runs = ((bare_tokenize, uri, spec), (packed_scan, uri, spec, 0), (hand_packed, uri, spec))
    [(t_bare, c_bare, n), (t0, c0, n0), (t_hand, _, _)], rounds = interleaved(repeats + 2, *runs)
    timer = [0.0]
    t_share = time.perf_counter()
    packed_scan(uri, spec, 0, timer)
    share = timer[0] / (time.perf_counter() - t_share)
    t1, _, n1 = best_of(repeats, packed_scan, uri, spec, 1)
    t2, _, n2 = best_of(repeats, packed_scan, uri, spec, 2)
    out = os.path.join(tmp, f"tokens-{abs(hash(spec))}")
    export_tokens(uri, out, spec)
    te, _, ne = best_of(repeats, packed_scan, out, None, 0)
    docs = READER.OrderedDataset(uri).num_rows
    assert n0 == n + docs, (n, n0, docs)  # ours adds one EOT per document
    assert n0 == n1 == n2 == ne
    name = spec if len(spec) < 30 else "..." + spec[-27:]
    print(f"packed tokens, {name} ({n0:,} tokens; load average {os.getloadavg()[0]:.1f}):")
    print(f"  bare tokenizer    : {n / t_bare:12,.0f} tokens/s")
    best = f"{t_bare / t0:.2f}x bare (best of each)"
    print(f"  PackedDataset     : {n0 / t0:12,.0f} tokens/s   {best}")
    print(f"    interleaved rounds bare/packed: {round_ratios(rounds, 0, 1)} (goal >= 0.9)")
    print(f"    (CPU time {c_bare / c0:.2f}x bare: steadier on a busy machine)")
    print(
        f"    (vs a hand-written packer, same batches: {t_hand / t0:.2f}x; "
        f"rounds {round_ratios(rounds, 2, 1)})"
    )
    print(
        f"    (tokenizer calls are {share:.1%} of an in-process pass: the reader's own "
        f"work is {1 - share:.1%})"
    )
    print(f"    1 worker        : {n1 / t1:12,.0f} tokens/s")
    for workers in (1, 2):
        cpu = cpu_with_workers(packed_scan, uri, spec, workers)
        print(f"    ({workers} worker(s): all processes' CPU {c_bare / cpu:.2f}x bare per token)")
    print(
        f"    2 workers       : {n2 / t2:12,.0f} tokens/s   {t1 / t2:.2f}x 1 worker (goal >= 1.5)"
    )
    print(f"  token export      : {ne / te:12,.0f} tokens/s   {t_bare / te:.1f}x bare")


if __name__ == "__main__":
    main()
