"""RecBole atomic files (any dataset): `<name>.inter`, optional `.item` and
`.user`, tab-separated with `field:type` headers. Read, checked and
rewritten with the canonical columns; every column of the item and user
files is kept as a feature."""

from cdnrec.core import atomic
from cdnrec.data.readers import base


class RecBole(base.Reader):
  name = "recbole"
  files = ("<name>.inter", "<name>.item", "<name>.user")

  def read(self, source_dir, options):
    dataset = atomic.locate(source_dir)
    bad = base.BadRows(options)
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
    has_ts = dataset.has_timestamp
    for number, row in self._rows(dataset.inter_path, dataset.inter_fields,
                                  bad):
      ts = row.get("timestamp") if has_ts else None
      if has_ts and ts is None:
        bad.add(dataset.inter_path, number, "field 'timestamp': empty; "
                "expected a number")
        continue
      tables.interactions.append((row["user_id"], row["item_id"], ts,
                                  dataset.inter_path, number))
    return base.finish(tables, bad)

  @staticmethod
  def _rows(path, fields, bad):
    base.decode_check(path, "utf-8")
    for number, line in atomic.read_numbered_lines(path):
      try:
        yield number, atomic.parse_row(line, fields, path, number)
      except atomic.DataFormatError as e:
        bad.add(path, number, str(e).split(f"line {number}, ", 1)[-1])
