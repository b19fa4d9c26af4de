"""Vectorised random primitives: seeded streams, unique numbers, id strings.

Ids are built as byte matrices and reinterpreted as fixed-width strings, which is two orders
of magnitude faster than formatting ten million Python strings one by one.
"""

from __future__ import annotations

import zlib

import numpy as np
import polars as pl
import pyarrow as pa

LOWER_ALNUM = b"abcdefghijklmnopqrstuvwxyz0123456789"
URLSAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
LOWER_HEX = b"0123456789abcdef"
DIGITS = b"0123456789"


def rng_for(seed: int, stream: str) -> np.random.Generator:
    """An independent generator per named stream, so tuning one feed never shifts another."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def _bytes_to_strings(matrix: np.ndarray) -> pl.Series:
    """Rows of an ASCII byte matrix as a string column, without a Python object per row."""
    matrix = np.ascontiguousarray(matrix, dtype=np.uint8)
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(matrix.shape[1]), len(matrix), [None, pa.py_buffer(matrix)]
    )
    return pl.Series(fixed.cast(pa.binary()).cast(pa.string()))


# the four ASCII digits of 0000..9999 as one uint32 each, to format numbers four digits per lookup
_FOUR_DIGITS = (
    np.array([list(f"{i:04d}".encode()) for i in range(10_000)], dtype=np.uint8).view(np.uint32).ravel()
)


def digit_matrix(numbers: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits of non-negative integers, zero-padded to `width` columns."""
    chunks = -(-width // 4)
    quads = np.empty((len(numbers), chunks), dtype=np.uint32)
    rest = numbers.astype(np.int64)
    for k in range(chunks - 1, -1, -1):
        high = rest // 10_000
        quads[:, k] = _FOUR_DIGITS[rest - high * 10_000]
        rest = high
    return quads.view(np.uint8)[:, chunks * 4 - width :]


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """`prefix` followed by each number zero-padded to `width` digits."""
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    matrix = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    matrix[:, : len(head)] = head
    matrix[:, len(head) :] = digit_matrix(numbers, width)
    return _bytes_to_strings(matrix)


def random_strings(
    rng: np.random.Generator, n: int, length: int, alphabet: bytes, prefix: str = ""
) -> pl.Series:
    """`n` strings of `prefix` + `length` characters drawn uniformly from `alphabet`."""
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    letters = np.frombuffer(alphabet, dtype=np.uint8)
    matrix = np.empty((n, len(head) + length), dtype=np.uint8)
    matrix[:, : len(head)] = head
    matrix[:, len(head) :] = letters[rng.integers(0, len(letters), size=(n, length))]
    return _bytes_to_strings(matrix)


def random_uuids(rng: np.random.Generator, n: int, upper: bool) -> pl.Series:
    """UUID-shaped hex strings (8-4-4-4-12), the shape of both IDFA and Huawei OAID."""
    letters = np.frombuffer(b"0123456789ABCDEF" if upper else LOWER_HEX, dtype=np.uint8)
    matrix = letters[rng.integers(0, 16, size=(n, 36))]
    matrix[:, [8, 13, 18, 23]] = ord("-")
    return _bytes_to_strings(matrix)


def unique_ints(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """`n` distinct integers in [low, high), in random order."""
    out = np.empty(0, dtype=np.int64)
    while len(out) < n:
        draw = rng.integers(low, high, size=int((n - len(out)) * 1.05) + 16, dtype=np.int64)
        pool = np.concatenate([out, draw])
        _, first = np.unique(pool, return_index=True)
        out = pool[np.sort(first)]
    return out[:n]


def choose(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights."""
    cdf = np.cumsum(weights, dtype=np.float64)
    return np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right").clip(0, len(weights) - 1)


def choose_per_row(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column index per row of a (rows, options) weight matrix; rows must have a positive weight."""
    cdf = np.cumsum(weights, axis=1, dtype=np.float64)
    u = rng.random(len(weights)) * cdf[:, -1]
    return (cdf <= u[:, None]).sum(axis=1).clip(0, weights.shape[1] - 1)


def segment_positions(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each run of `np.repeat(x, counts)`."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - starts


def lognormal_weights(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Heavy-tailed positive weights with mean 1."""
    return rng.lognormal(-sigma * sigma / 2, sigma, size=n)


def where(mask: np.ndarray, values: pl.Series, otherwise: pl.Series | None = None) -> pl.Series:
    """`values` where `mask` holds, else `otherwise` (null when not given)."""
    chosen = pl.when(pl.Series(mask, dtype=pl.Boolean)).then(values)
    return (
        pl.select(chosen.otherwise(otherwise) if otherwise is not None else chosen)
        .to_series()
        .alias(values.name)
    )
