"""Serialized tf.Examples assembled from pre-serialized parts, and TFRecord
files written a whole shard at a time.

An interaction example is the user's features, the item's features and the
timestamp. Encoding every example field by field repeats the same work for
every interaction of a popular item; instead each item's and each user's
features are encoded once (with tfx_bsl's C++ encoder), and an example is
the concatenation of its parts. This is valid protobuf: a tf.train.Features
message is a repeated map entry field, and repeated entries concatenate.
"""

import io
import struct
from typing import Any, Dict, Iterable, List, Sequence

import google_crc32c
from isal import igzip
from isal import isal_zlib
import numpy as np
import pyarrow as pa
import tensorflow as tf
from tfx_bsl.coders import example_coder

# Records compressed per deflate call.
_CHUNK = 1 << 14
# Deflate by ISA-L (Intel's igzip) at its level 1: a fifth of zlib level 1's
# time, and no more bytes; the files are plain GZIP, which tf.data reads.
GZIP_LEVEL = 1


class Parts:
  """Byte strings in one buffer: part i is data[offsets[i]:offsets[i+1]]."""

  def __init__(self, data: np.ndarray, offsets: np.ndarray):
    self.data = data
    self.offsets = offsets

  def __len__(self) -> int:
    return len(self.offsets) - 1

  @property
  def lengths(self) -> np.ndarray:
    return np.diff(self.offsets)

  def to_list(self):
    raw = self.data.tobytes()
    return [raw[a:b] for a, b in zip(self.offsets[:-1].tolist(),
                                     self.offsets[1:].tolist())]

  @staticmethod
  def from_list(values: Sequence[bytes]) -> "Parts":
    lengths = np.fromiter((len(v) for v in values), dtype=np.int64,
                          count=len(values))
    return Parts(np.frombuffer(b"".join(values), dtype=np.uint8),
                 np.concatenate([[0], np.cumsum(lengths)]))


def _varint_length(values: np.ndarray) -> np.ndarray:
  v = values.astype(np.uint64)
  length = np.ones(len(v), dtype=np.int64)
  for k in range(1, 10):
    length += v >= (np.uint64(1) << np.uint64(7 * k))
  return length


def varints(values: np.ndarray) -> Parts:
  """Protobuf varints of int64 values (two's complement, as protobuf)."""
  v = np.asarray(values).astype(np.int64).view(np.uint64)
  lengths = _varint_length(v)
  width = int(lengths.max(initial=1))
  matrix = np.zeros((len(v), width), dtype=np.uint8)
  rest = v.copy()
  for k in range(width):
    matrix[:, k] = (rest & np.uint64(0x7F)).astype(np.uint8)
    rest >>= np.uint64(7)
    more = k + 1 < lengths
    matrix[more, k] |= 0x80
  keep = np.arange(width)[None, :] < lengths[:, None]
  return Parts(matrix[keep], np.concatenate([[0], np.cumsum(lengths)]))


def feature_entries(columns: Dict[str, pa.Array]) -> Parts:
  """Per row, the serialized map entries of its features (a Features
  message's payload), encoded by tfx_bsl."""
  n = len(next(iter(columns.values()))) if columns else 0
  if not columns:
    return Parts(np.zeros(0, np.uint8), np.zeros(n + 1, np.int64))
  batch = pa.RecordBatch.from_arrays(list(columns.values()),
                                     list(columns.keys()))
  examples = Parts.from_list(example_coder.RecordBatchToExamples(batch))
  # Example = field 1 (0x0A), varint length, Features; Features is the
  # entries. Strip the tag and the length.
  starts = examples.offsets[:-1]
  header = 1 + _varint_length(_payload_lengths(examples))
  return _slices(examples, starts + header, examples.offsets[1:])


def _payload_lengths(examples: Parts) -> np.ndarray:
  """Length of the Features message inside each serialized Example."""
  lengths = examples.lengths
  # An empty Example (no features) has no field at all.
  payload = np.zeros(len(lengths), dtype=np.int64)
  nonempty = lengths > 0
  starts = examples.offsets[:-1][nonempty] + 1
  shift = np.zeros(nonempty.sum(), dtype=np.int64)
  value = np.zeros(nonempty.sum(), dtype=np.int64)
  done = np.zeros(nonempty.sum(), dtype=bool)
  for k in range(10):
    byte = examples.data[np.minimum(starts + k, len(examples.data) - 1)
                         ].astype(np.int64)
    value += np.where(done, 0, (byte & 0x7F) << shift)
    shift += 7
    done |= byte < 0x80
    if done.all():
      break
  payload[nonempty] = value
  return payload


def _slices(parts: Parts, starts: np.ndarray, ends: np.ndarray) -> Parts:
  lengths = ends - starts
  offsets = np.concatenate([[0], np.cumsum(lengths)])
  index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
  return Parts(parts.data[index], offsets)


def int64_entry(key: str, values: np.ndarray) -> Parts:
  """Per row, the map entry {key: int64_list {value: v}}."""
  key_bytes = key.encode()
  packed = varints(values)
  plen = packed.lengths
  # Int64List = field 1 packed: 0x0A len(packed) packed.
  int64_list = 1 + 1 + plen
  # Feature = field 3 (int64_list): 0x1A len(Int64List) Int64List.
  feature = 1 + 1 + int64_list
  # Entry = 0x0A len(key) key 0x12 len(Feature) Feature.
  entry = 1 + 1 + len(key_bytes) + 1 + 1 + feature
  # Entry = 0x0A len(Entry) Entry in the Features payload.
  total = 1 + 1 + entry
  if int(total.max(initial=0)) > 127:
    raise ValueError("int64 entries longer than 127 bytes are not expected")
  head = np.frombuffer(bytes([0x0A, len(key_bytes)]) + key_bytes, np.uint8)
  n = len(values)
  offsets = np.concatenate([[0], np.cumsum(total)])
  data = np.zeros(int(offsets[-1]), dtype=np.uint8)
  at = offsets[:-1]
  data[at] = 0x0A
  data[at + 1] = entry
  for k, b in enumerate(head):
    data[at + 2 + k] = b
  at = at + 2 + len(head)
  data[at] = 0x12
  data[at + 1] = feature
  data[at + 2] = 0x1A
  data[at + 3] = int64_list
  data[at + 4] = 0x0A
  data[at + 5] = plen
  at = at + 6
  index = np.repeat(at - packed.offsets[:-1], plen) + np.arange(
      packed.offsets[-1])
  data[index] = packed.data
  del n
  return Parts(data, offsets)


def _varint(n: int) -> bytes:
  out = bytearray()
  while True:
    byte = n & 0x7F
    n >>= 7
    if n:
      out.append(byte | 0x80)
    else:
      out.append(byte)
      return bytes(out)


_VARINTS = [_varint(k) for k in range(1 << 14)]
# b"\n" + varint(length) for every Features payload length below 2^14.
_HEADERS = [b"\n" + v for v in _VARINTS]


def _len(n: int) -> bytes:
  return _VARINTS[n] if n < len(_VARINTS) else _varint(n)


def bytes_entry(key: str, values: Iterable[bytes]) -> List[bytes]:
  """Per value, the map entry {key: bytes_list {value: v}}."""
  k = b"\n" + _len(len(key)) + key.encode()
  out = []
  for v in values:
    bytes_list = b"\n" + _len(len(v)) + v
    feature = b"\n" + _len(len(bytes_list)) + bytes_list
    entry = k + b"\x12" + _len(len(feature)) + feature
    out.append(b"\n" + _len(len(entry)) + entry)
  return out


_MASK_DELTA = 0xA282EAD8


def _mask(crc: int) -> int:
  """TFRecord's masked CRC32C."""
  return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def write_examples(path: str, columns: Sequence[Sequence[bytes]],
                   wrap: bool = True) -> int:
  """Writes row r = the concatenation of columns[k][r] (wrapped as an
  Example's features when `wrap`) as one record of a GZIP TFRecord file.

  Framing and compression are done here rather than by tf.io.TFRecordWriter,
  whose per-record call and fixed compression level cost more than the rest
  of ExampleGen (docs/benchmarks.md).
  """
  frames: Dict[int, bytes] = {}
  pack = struct.Struct("<I").pack
  pack_size = struct.Struct("<Q").pack
  crc = google_crc32c.value
  varints_ = _VARINTS
  join = b"".join
  compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, 31)
  count = 0
  with tf.io.gfile.GFile(path, "wb") as f:
    out: List[bytes] = []
    append = out.append
    for row in zip(*columns):
      body = join(row)
      if wrap:
        body = join((b"\n", varints_[len(body)] if len(body) < 16384
                     else _varint(len(body)), body))
      n = len(body)
      head = frames.get(n)
      if head is None:
        size = pack_size(n)
        head = frames[n] = size + pack(_mask(crc(size)))
      append(head)
      append(body)
      append(pack(_mask(crc(body))))
      count += 1
      if len(out) >= 3 * _CHUNK:
        f.write(compressor.compress(join(out)))
        out.clear()
    f.write(compressor.compress(join(out)))
    f.write(compressor.flush())
  return count


class _Raw(io.RawIOBase):
  """A tf.io.gfile.GFile (local or remote) as the raw stream gzip reads."""

  def __init__(self, f: Any):
    super().__init__()
    self._f = f

  def readable(self) -> bool:
    return True

  def readinto(self, buffer) -> int:
    data = self._f.read(len(buffer))
    buffer[:len(data)] = data
    return len(data)


# Bytes un-gzipped per step when copying records.
_READ = 1 << 26
# A record's frame: its length (8 bytes), the length's CRC (4), its data and
# the data's CRC (4).
_FRAME_BYTES = 16


def copy_records(source: str, dest: str, lengths: np.ndarray,
                 keep: np.ndarray) -> int:
  """Writes the records of the GZIP TFRecord file `source` where `keep` is
  True to a new GZIP TFRecord file `dest`, in order, frames and CRCs as they
  were (nothing is re-parsed or re-checksummed: gzip's CRC-32 covers the
  stream). `lengths` are the source's record lengths, in order, from an
  earlier read of it; a file that does not match them fails, naming it.
  Returns the number of records written."""
  lengths = np.asarray(lengths, dtype=np.int64)
  keep = np.asarray(keep, dtype=bool)
  if keep.shape != lengths.shape:
    raise ValueError(f"{source}: {len(keep)} keep flags for {len(lengths)} "
                     f"records")
  frame = lengths + _FRAME_BYTES
  ends = np.cumsum(frame)
  compressor = isal_zlib.compressobj(GZIP_LEVEL, isal_zlib.DEFLATED, 31)
  done, offset, carry = 0, 0, b""
  with tf.io.gfile.GFile(source, "rb") as raw, \
       igzip.IGzipFile(fileobj=io.BufferedReader(_Raw(raw))) as records, \
       tf.io.gfile.GFile(dest, "wb") as out:
    while True:
      data = records.read(_READ)
      buffer = carry + data if carry else data
      # Records [done, whole) lie wholly in the buffer.
      whole = int(np.searchsorted(ends, offset + len(buffer), side="right"))
      if whole > done:
        size = int(ends[whole - 1] - offset)
        chunk = np.frombuffer(buffer, dtype=np.uint8, count=size)
        starts = ends[done:whole] - frame[done:whole] - offset
        found = chunk[starts[:, None] + np.arange(8)].copy().view("<u8")[:, 0]
        bad = np.flatnonzero(found != lengths[done:whole])
        if len(bad):
          raise ValueError(
              f"{source}: record {done + int(bad[0])} is {int(found[bad[0]])} "
              f"bytes long, an earlier read found "
              f"{int(lengths[done + bad[0]])}: the file changed between reads")
        part = keep[done:whole]
        if part.all():
          out.write(compressor.compress(chunk))
        elif part.any():
          out.write(compressor.compress(
              chunk[np.repeat(part, frame[done:whole])]))
        carry = buffer[size:]
        offset += size
        done = whole
      else:
        carry = buffer
      if not data:
        break
    if done != len(lengths) or carry:
      raise ValueError(
          f"{source}: {done} records and {len(carry)} more bytes, where an "
          f"earlier read found {len(lengths)} records: the file changed "
          f"between reads")
    out.write(compressor.flush())
  return int(keep.sum())
