"""Deterministic benchmark datasets: folders of text partitions of given sizes (or empty ones).

A dataset is made once per work folder and reused while its recipe (the `spec`, which includes
the seed) is unchanged: the recipe is kept beside the folder as `<folder>.manifest.json`.
"""
import json
import random
import shutil
from pathlib import Path

SUFFIX = ".txt"
POOL_BYTES = 1 << 20
WORD_BYTES = bytes(range(0x21, 0x7F))  # printable ASCII without the space


def uniform_sizes(count, low, high, seed):
    """`count` sizes drawn uniformly from low..high bytes."""
    rng = random.Random(seed)
    return [rng.randint(low, high) for _ in range(count)]


def pareto_sizes(count, median, alpha, cap, seed):
    """`count` sizes with a heavy (Pareto) tail, median about `median` bytes, none above
    `cap` x the median: the Pareto quantiles at (i + 0.5) / count, in a seeded shuffled order
    (so the large ones are spread over the partition names)."""
    scale = median / 2 ** (1 / alpha)
    sizes = [min(int(scale * (1 - (i + 0.5) / count) ** (-1 / alpha)), cap * median) for i in range(count)]
    random.Random(seed).shuffle(sizes)
    return sizes


def text_pool(rng, size):
    """`size` bytes of words (1-12 printable ASCII characters) separated by a space, or by a
    newline after about one word in ten."""
    out = bytearray()
    while len(out) < size:
        out += bytes(rng.choices(WORD_BYTES, k=rng.randint(1, 12)))
        out += b"\n" if rng.random() < 0.1 else b" "
    return bytes(out[:size])


def cut(rng, pool, size):
    """`size` bytes taken from the pool at random offsets, in pieces of at most half the pool."""
    pieces, left = [], size
    longest = len(pool) // 2
    while left > 0:
        length = min(left, longest)
        start = rng.randrange(len(pool) - length + 1)
        pieces.append(pool[start:start + length])
        left -= length
    return b"".join(pieces)


def partition_paths(folder, count):
    """The partition files of a dataset of `count` partitions: p000000.txt, p000001.txt, ..."""
    width = max(6, len(str(count - 1)))
    return [folder / f"p{i:0{width}d}{SUFFIX}" for i in range(count)]


def materialize(folder, spec, sizes):
    """Makes `folder` hold one partition per entry of `sizes` (text, or empty for size 0),
    unless it already holds this very spec. Returns the partition paths in name order."""
    folder = Path(folder)
    files = partition_paths(folder, len(sizes))
    manifest = folder.with_name(folder.name + ".manifest.json")
    if manifest.exists() and json.loads(manifest.read_text()) == spec:
        return files
    manifest.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = random.Random(spec["seed"])
    pool = text_pool(rng, POOL_BYTES) if any(sizes) else b""
    for path, size in zip(files, sizes):
        path.write_bytes(cut(rng, pool, size) if size else b"")
    manifest.write_text(json.dumps(spec))
    return files


def total_bytes(files):
    """Sum of the files' sizes."""
    return sum(path.stat().st_size for path in files)
