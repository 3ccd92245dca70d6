"""What every dataset reader shares: options, bad-row accounting, and the
canonical RecBole atomic files every reader writes.

A reader turns a source layout (MovieLens, BookCrossing, a plain table...)
into `<name>.inter` (user_id, item_id[, timestamp]), `<name>.item` and
`<name>.user` that the pipeline's ExampleGen reads. The files are written to
a temporary folder and renamed into place whole, so a failed or interrupted
conversion never leaves files a later run could take for complete.
"""

import abc
import dataclasses
import os
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

from cdnrec.core import atomic

DataFormatError = atomic.DataFormatError
SHOWN_BAD_ROWS = 5


@dataclasses.dataclass(frozen=True)
class ReadOptions:
  """Args:
    max_bad_rows: malformed or dangling rows tolerated (skipped and counted)
      before the read fails. 0: any bad row fails it.
  """
  max_bad_rows: int = 0


class BadRows:
  """Counts skipped rows and keeps the first few for the error/report."""

  def __init__(self, options: ReadOptions):
    self._limit = options.max_bad_rows
    self.count = 0
    self.examples: List[str] = []

  def add(self, path: str, line: int, reason: str) -> None:
    self.count += 1
    if len(self.examples) < SHOWN_BAD_ROWS:
      self.examples.append(f"{path}, line {line}: {reason}")
    if self.count > self._limit:
      shown = "\n  ".join(self.examples)
      raise DataFormatError(
          f"{self.count} bad row(s), more than --max-bad-rows="
          f"{self._limit}; first ones:\n  {shown}")


@dataclasses.dataclass
class Tables:
  """A dataset in memory, in the canonical shape.

  interactions: (user_id, item_id, timestamp or None, source path, line).
  items / users: id -> {column: value}; values are str, or list of str for
    token_seq columns.
  """
  name: str
  item_fields: Sequence[atomic.Field]
  user_fields: Sequence[atomic.Field]
  interactions: List[Tuple[str, str, Optional[float], str, int]] = (
      dataclasses.field(default_factory=list))
  items: Dict[str, Dict] = dataclasses.field(default_factory=dict)
  users: Dict[str, Dict] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Report:
  """What a conversion read, kept and dropped."""
  interactions: int
  users: int
  items: int
  bad_rows: int
  bad_examples: Tuple[str, ...]
  duplicates: int
  notes: Tuple[str, ...] = ()


def require_file(directory: str, name: str, what: str) -> str:
  path = os.path.join(directory, name)
  if not os.path.isfile(path):
    raise DataFormatError(f"{path}: missing; the {what} is expected there")
  return path


def open_text(path: str, encoding: str):
  return open(path, encoding=encoding, newline="")


def decode_check(path: str, encoding: str) -> None:
  """Fails early, naming the line, when a file is not in `encoding`."""
  with open(path, "rb") as f:
    for number, raw in enumerate(f, start=1):
      try:
        raw.decode(encoding)
      except UnicodeDecodeError as e:
        raise DataFormatError(
            f"{path}, line {number}: not valid {encoding} ({e.reason} at "
            f"byte {e.start}); expected {encoding}-encoded text") from None


def finish(tables: Tables, bad: BadRows,
           notes: Sequence[str] = ()) -> Tuple[Tables, Report]:
  """Drops interactions whose user or item has no row (bad rows) and
  duplicate (user, item) pairs beyond the latest (bad rows too), and
  refuses an empty result."""
  kept: Dict[Tuple[str, str], Tuple] = {}
  duplicates = 0
  for row in tables.interactions:
    user, item, ts, path, line = row
    if tables.items and item not in tables.items:
      bad.add(path, line, f"field 'item_id': item {item!r} is not in the "
              "item file")
      continue
    if tables.users and user not in tables.users:
      bad.add(path, line, f"field 'user_id': user {user!r} is not in the "
              "user file")
      continue
    key = (user, item)
    if key in kept:
      duplicates += 1
      first = kept[key]
      bad.add(path, line, f"duplicate interaction ({user!r}, {item!r}), "
              f"first at line {first[4]}; the latest is kept")
      if (ts or 0.0) < (first[2] or 0.0):
        continue
    kept[key] = row
  tables.interactions = sorted(kept.values(), key=lambda r: (r[3], r[4]))
  if not tables.interactions:
    raise DataFormatError(
        f"{tables.name}: no interactions left after filtering "
        f"({bad.count} bad rows); expected at least one valid rating")
  report = Report(
      interactions=len(tables.interactions),
      users=len({r[0] for r in tables.interactions}),
      items=len({r[1] for r in tables.interactions}),
      bad_rows=bad.count, bad_examples=tuple(bad.examples),
      duplicates=duplicates, notes=tuple(notes))
  return tables, report


def write(tables: Tables, out_dir: str) -> atomic.AtomicDataset:
  """Writes the atomic files; out_dir appears whole or not at all."""
  parent = os.path.dirname(os.path.abspath(out_dir))
  os.makedirs(parent, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=".staging-", dir=parent)
  try:
    has_ts = any(r[2] is not None for r in tables.interactions)
    inter_fields = [atomic.Field("user_id", atomic.FieldType.TOKEN),
                    atomic.Field("item_id", atomic.FieldType.TOKEN)]
    if has_ts:
      inter_fields.append(atomic.Field("timestamp", atomic.FieldType.FLOAT))
    atomic.write_atomic(
        os.path.join(staging, f"{tables.name}.inter"), inter_fields,
        ((u, i, ts) if has_ts else (u, i)
         for u, i, ts, _, _ in tables.interactions))
    for suffix, fields, rows, key in (
        ("item", tables.item_fields, tables.items, "item_id"),
        ("user", tables.user_fields, tables.users, "user_id")):
      if not rows:
        continue
      full = [atomic.Field(key, atomic.FieldType.TOKEN)] + list(fields)
      atomic.write_atomic(
          os.path.join(staging, f"{tables.name}.{suffix}"), full,
          ([ident] + [_clean(values.get(f.name), f) for f in fields]
           for ident, values in rows.items()))
    if os.path.exists(out_dir):
      shutil.rmtree(out_dir)
    os.replace(staging, out_dir)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return atomic.locate(out_dir)


def _clean(value, field: atomic.Field):
  """Tabs and newlines would break the atomic format; tokens lose them."""
  if field.type == atomic.FieldType.TOKEN_SEQ:
    return [t for v in (value or []) for t in str(v).split()]
  text = "" if value is None else str(value)
  return " ".join(text.split())


class Reader(abc.ABC):
  """Reads one source layout into Tables."""

  name: str = ""
  # Files in the source folder, for error messages and `--help`.
  files: Tuple[str, ...] = ()

  @abc.abstractmethod
  def read(self, source_dir: str, options: ReadOptions) -> Tuple[Tables,
                                                                 Report]:
    """Returns the dataset and what was dropped; raises DataFormatError."""
