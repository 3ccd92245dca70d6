"""RecBole atomic files (any dataset): `<name>.inter`, optional `.item` and
`.user`, tab-separated with `field:type` headers. Every column of the item
and user files is kept as a feature."""

from cdnrec.core import atomic
from cdnrec.data import interaction_logs as logs
from cdnrec.data.readers import base


class RecBole(base.LogReader):
  name = "recbole"
  files = ("<name>.inter", "<name>.item", "<name>.user")

  def interaction_log(self, source_dir):
    dataset = atomic.locate(source_dir)
    return logs.InteractionLog(
        dataset.name, (dataset.inter_path,), logs.ATOMIC,
        timestamp=logs.TIMESTAMP if dataset.has_timestamp else None,
        atomic_fields=dataset.inter_fields)

  def read_sides(self, source_dir, bad):
    dataset = atomic.locate(source_dir)
    tables = base.Tables(
        dataset.name,
        [f for f in dataset.item_fields if f.name != "item_id"],
        [f for f in dataset.user_fields if f.name != "user_id"])
    for path, fields, target, key in (
        (dataset.item_path, dataset.item_fields, tables.items, "item_id"),
        (dataset.user_path, dataset.user_fields, tables.users, "user_id")):
      if not path:
        continue
      for number, row in self._rows(path, fields, bad):
        if row[key] in target:
          bad.add(path, number, f"field {key!r}: {row[key]!r} appears "
                  "again; expected one row per id")
          continue
        target[row.pop(key)] = row
    return tables

  @staticmethod
  def _rows(path, fields, bad):
    base.decode_check(path, "utf-8")
    for number, line in atomic.read_numbered_lines(path):
      try:
        yield number, atomic.parse_row(line, fields, path, number)
      except atomic.DataFormatError as e:
        bad.add(path, number, str(e).split(f"line {number}, ", 1)[-1])
