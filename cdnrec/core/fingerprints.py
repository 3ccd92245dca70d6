"""A 64-bit hash of every string of an Arrow array, vectorized in numpy.

Beam partitions rows by it, so it must be the same in every process and on
every machine (Python's `hash` of a str is salted per process).
"""

import numpy as np
import pyarrow as pa

_MULTIPLIER = np.uint64(0x100000001B3)
_OFFSET = np.uint64(0xCBF29CE484222325)


def _mix(h: np.ndarray) -> np.ndarray:
  """splitmix64's finalizer: spreads the bits of a polynomial hash."""
  h = h ^ (h >> np.uint64(30))
  h = h * np.uint64(0xBF58476D1CE4E5B9)
  h = h ^ (h >> np.uint64(27))
  h = h * np.uint64(0x94D049BB133111EB)
  return h ^ (h >> np.uint64(31))


def hash64(strings, seed: int = 0) -> np.ndarray:
  """uint64 per string (nulls hash as the empty string); another seed
  gives independent values."""
  if isinstance(strings, pa.ChunkedArray):
    strings = strings.combine_chunks()
  strings = strings.cast(pa.large_binary()).fill_null(b"")
  n = len(strings)
  if n == 0:
    return np.zeros(0, dtype=np.uint64)
  seed = int(seed) & 0xFFFFFFFFFFFFFFFF
  offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)[
      strings.offset:strings.offset + n + 1]
  data = np.frombuffer(strings.buffers()[2], dtype=np.uint8)[
      offsets[0]:offsets[-1]]
  starts = offsets[:-1] - offsets[0]
  lengths = np.diff(offsets)
  # h = sum_j byte_j * M^(length-1-j) (mod 2^64): one power per byte.
  longest = int(lengths.max())
  powers = np.ones(max(longest, 1), dtype=np.uint64)
  with np.errstate(over="ignore"):
    for k in range(1, longest):
      powers[k] = powers[k - 1] * _MULTIPLIER
    ends = np.repeat(starts + lengths, lengths)
    from_end = ends - np.arange(len(data)) - 1
    terms = (data.astype(np.uint64) + np.uint64(1)) * powers[from_end]
    sums = np.zeros(n, dtype=np.uint64)
    nonempty = lengths > 0
    if len(terms):
      sums[nonempty] = np.add.reduceat(terms, starts[nonempty])
    salt = _mix(np.array([seed], dtype=np.uint64))[0]
    return _mix(sums ^ _OFFSET ^ lengths.astype(np.uint64) ^ salt)
