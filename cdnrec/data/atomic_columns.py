"""RecBole atomic files read as Arrow tables, one byte range at a time.

ExampleGen splits the interaction file into byte ranges and Beam's workers
read them in parallel; each range is parsed in C++ by pyarrow's CSV reader.
A range owns the lines that start inside it. Every row keeps its 1-based
line number, so errors and the "first appearance in the log" order are the
same as reading the file top to bottom.

A range whose rows don't all parse (a wrong number of fields, a float column
holding text, a line of blanks) is re-read row by row with
`atomic.parse_row`, which names each bad row's line and field; the rows that
parse are kept.
"""

import dataclasses
import io
from typing import List, Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from apache_beam.io import filesystems
from apache_beam.io.filesystem import CompressionTypes

from cdnrec.core import atomic

LINE = "__line__"
# Ranges of about this size: a few seconds of parsing each, and a few
# hundred MB of Arrow data per worker at most.
RANGE_BYTES = 64 << 20


@dataclasses.dataclass(frozen=True)
class BadRow:
  path: str
  line: int
  reason: str

  def __str__(self) -> str:
    return f"{self.path}, line {self.line}: {self.reason}"


@dataclasses.dataclass(frozen=True)
class ByteRange:
  path: str
  start: int
  end: int


def byte_ranges(path: str, range_bytes: int = RANGE_BYTES) -> List[ByteRange]:
  """Ranges covering the file (read through Beam's filesystems, so gs://
  and other remote paths work the same)."""
  size = filesystems.FileSystems.match([path])[0].metadata_list[0].size_in_bytes
  starts = list(range(0, max(size, 1), max(1, range_bytes)))
  return [ByteRange(path, s, min(s + range_bytes, size)) for s in starts]


def count_newlines(r: ByteRange) -> Tuple[int, int]:
  """(start, newlines in [start, end)): prefix sums give line numbers."""
  with filesystems.FileSystems.open(
      r.path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
    f.seek(r.start)
    count, left = 0, r.end - r.start
    while left > 0:
      chunk = f.read(min(left, 8 << 20))
      if not chunk:
        break
      count += chunk.count(b"\n")
      left -= len(chunk)
  return r.start, count


def owned_bytes(r: ByteRange) -> Tuple[bytes, bool]:
  """The bytes of the lines starting in [start, end), and whether the first
  of them starts after `start` (so one newline of the range precedes it)."""
  with filesystems.FileSystems.open(
      r.path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
    moved = False
    if r.start > 0:
      f.seek(r.start - 1)
      skipped = f.readline()
      moved = len(skipped) > 1
      begin = r.start - 1 + len(skipped)
    else:
      begin = 0
    if begin >= r.end:
      return b"", moved
    data = f.read(r.end - begin)
    if data and not data.endswith(b"\n"):
      data += f.readline()
  return data, moved


def line_numbers(data: bytes, first_line: int) -> np.ndarray:
  """Line number of every non-empty line of data (what the CSV reader
  turns into rows)."""
  buf = np.frombuffer(data, dtype=np.uint8)
  ends = np.flatnonzero(buf == 10)
  if len(buf) and buf[-1] != 10:
    ends = np.append(ends, len(buf))
  starts = np.concatenate([[0], ends[:-1] + 1]) if len(ends) else ends
  lengths = ends - starts
  # "\r\n" line endings: a line holding only "\r" is empty too.
  cr_only = np.zeros(len(starts), dtype=bool)
  one = lengths == 1
  cr_only[one] = buf[starts[one]] == 13
  return first_line + np.flatnonzero((lengths > 0) & ~cr_only)


def split_whitespace(column) -> pa.Array:
  """str.split() of every cell: whitespace-separated, no empty tokens."""
  lists = pc.utf8_split_whitespace(column)
  if isinstance(lists, pa.ChunkedArray):
    lists = lists.combine_chunks()
  values = lists.flatten()
  keep = np.asarray(pc.not_equal(values, "").to_numpy(zero_copy_only=False),
                    dtype=bool)
  parents = pc.list_parent_indices(lists).to_numpy()
  counts = np.bincount(parents[keep], minlength=len(lists))
  offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
  return pa.ListArray.from_arrays(pa.array(offsets),
                                  values.filter(pa.array(keep)))


def _fast_parse(data: bytes, fields: Sequence[atomic.Field]) -> pa.Table:
  """Raises ValueError when any row needs the slow path."""
  invalid = []

  def on_invalid(row):
    invalid.append(row)
    return "skip"

  table = pacsv.read_csv(
      io.BytesIO(data),
      read_options=pacsv.ReadOptions(
          column_names=[f.name for f in fields], use_threads=False,
          block_size=max(1 << 20, len(data) + 1)),
      parse_options=pacsv.ParseOptions(
          delimiter="\t", quote_char=False, escape_char=False,
          newlines_in_values=False, ignore_empty_lines=True,
          invalid_row_handler=on_invalid),
      convert_options=pacsv.ConvertOptions(
          column_types={f.name: pa.string() for f in fields},
          strings_can_be_null=False, quoted_strings_can_be_null=False))
  if invalid:
    raise ValueError("rows with a wrong number of fields")
  columns = {}
  for f in fields:
    column = table.column(f.name)
    if f.type == atomic.FieldType.FLOAT:
      empty = pc.equal(column, "")
      column = pc.cast(pc.if_else(empty, pa.scalar(None, pa.string()),
                                  column), pa.float64())
    elif f.type == atomic.FieldType.TOKEN_SEQ:
      column = split_whitespace(column)
    elif f.type == atomic.FieldType.FLOAT_SEQ:
      column = pc.cast(split_whitespace(column), pa.list_(pa.float64()))
    columns[f.name] = column
  return pa.table(columns)


def _slow_parse(data: bytes, fields: Sequence[atomic.Field], path: str,
                first_line: int) -> Tuple[pa.Table, List[BadRow]]:
  rows, lines, bad = [], [], []
  for offset, raw in enumerate(data.split(b"\n")):
    number = first_line + offset
    try:
      line = raw.decode("utf-8")
    except UnicodeDecodeError as e:
      bad.append(BadRow(path, number, f"not valid utf-8 ({e.reason} at byte "
                        f"{e.start}); expected utf-8-encoded text"))
      continue
    if not line.strip():
      continue
    try:
      rows.append(atomic.parse_row(line, fields, path, number))
      lines.append(number)
    except atomic.DataFormatError as e:
      bad.append(BadRow(path, number,
                        str(e).split(f"line {number}, ", 1)[-1]
                        .split(f"line {number}: ", 1)[-1]))
  types = {atomic.FieldType.TOKEN: pa.string(),
           atomic.FieldType.TOKEN_SEQ: pa.list_(pa.string()),
           atomic.FieldType.FLOAT: pa.float64(),
           atomic.FieldType.FLOAT_SEQ: pa.list_(pa.float64())}
  table = pa.table({f.name: pa.array([r[f.name] for r in rows], types[f.type])
                    for f in fields})
  return table.append_column(LINE, pa.array(lines, pa.int64())), bad


def read_range(r: ByteRange, fields: Sequence[atomic.Field],
               newlines_before: int) -> Tuple[pa.Table, List[BadRow]]:
  """The rows of the lines starting in r, with a LINE column, and the bad
  rows. newlines_before: newlines in the file before r.start."""
  data, moved = owned_bytes(r)
  first_line = 1 + newlines_before + int(moved)
  if r.start == 0:  # the header line
    header_end = data.find(b"\n")
    data = data[header_end + 1:] if header_end >= 0 else b""
    first_line += 1
  if not data.strip():
    return _slow_parse(b"", fields, r.path, first_line)
  try:
    data.decode("utf-8")
    table = _fast_parse(data, fields)
    lines = line_numbers(data, first_line)
    if len(lines) != table.num_rows:
      raise ValueError("blank-looking lines")
    return table.append_column(LINE, pa.array(lines, pa.int64())), []
  except (ValueError, pa.ArrowException):
    return _slow_parse(data, fields, r.path, first_line)


def read_file(path: str,
              fields: Sequence[atomic.Field]) -> Tuple[pa.Table, List[BadRow]]:
  """A whole (side) file as one table."""
  r = ByteRange(path, 0, byte_ranges(path, 1 << 62)[0].end)
  return read_range(r, fields, 0)
