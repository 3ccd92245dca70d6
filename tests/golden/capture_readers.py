"""What ExampleGen wrote for every reader's layout, for two code versions to
compare.

`python tests/golden/capture_readers.py OUT.json` runs ExampleGen of the
cdnrec on sys.path over small files in each reader's layout (MovieLens
100K, 1M and CSV, Book-Crossing, a CSV table with inline features, a
Parquet table with a side table) and writes every example and the catalog
as sorted JSON. tests/golden/readers.json was captured this way while
those readers still converted the whole source in one process, before
ExampleGen read their interaction files in Beam (docs/design.md names the
commit); test_golden.py re-captures with today's code and compares.
"""

import json
import os
import sys
import tempfile

import cdnrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)

# Each user has three or more ratings so that every split is written; a few
# rows repeat a (user, item) pair or tie on time.
ML100K = {
    "u.item": [f"{i}|Movie {i} ({1990 + i})|01-Jan-{1990 + i}||http://x|" +
               "|".join("1" if g in (i % 19, (3 * i) % 19) else "0"
                        for g in range(19)) for i in range(1, 9)],
    "u.user": [f"{u}|{20 + u}|{'MF'[u % 2]}|job{u % 3}|{10000 + u}"
               for u in range(1, 6)],
    "u.data": [f"{u}\t{(u * k) % 8 + 1}\t{k % 5 + 1}\t{880000000 + 7 * u + k}"
               for u in range(1, 6) for k in range(1, 5)] +
              ["2\t3\t4\t880000020", "5\t1\t2\t880000040"],
}
ML1M = {
    "movies.dat": [f"{i}::Film {i} ({1980 + i})::Drama|Comedy" if i % 2 else
                   f"{i}::Other {i} ({1980 + i})::Action"
                   for i in range(1, 7)],
    "users.dat": [f"{u}::{'MF'[u % 2]}::{18 + u}::{u % 5}::{20000 + u}"
                  for u in range(1, 5)],
    "ratings.dat": [f"{u}::{(u + k) % 6 + 1}::{k % 5 + 1}::{970000000 + k}"
                    for u in range(1, 5) for k in range(4)],
}
MLCSV = {
    "movies.csv": ["movieId,title,genres",
                   '1,"American President, The (1995)",Comedy|Romance',
                   "2,Jumanji (1995),(no genres listed)",
                   "3,Heat (1995),Action|Crime|Thriller",
                   "4,Sabrina (1995),Comedy|Romance"],
    "ratings.csv": ["userId,movieId,rating,timestamp"] +
                   [f"{u},{(u + k) % 4 + 1},{(k % 5) + 0.5},{964980000 + u * 10 + k}"
                    for u in range(1, 5) for k in range(3)],
}
BX = {
    "BX-Books.csv": ['"ISBN";"Book-Title";"Book-Author";"Year-Of-Publication";'
                     '"Publisher";"Image-URL-S";"Image-URL-M";"Image-URL-L"'] +
                    [f'"00000000{i}X";"Book {i}";"Author {i % 3}";"{1990 + i}";'
                     f'"Pub {i % 2}";"s";"m";"l"' for i in range(1, 7)],
    "BX-Users.csv": ['"User-ID";"Location";"Age"'] +
                    [f'"{u}";"city {u}, usa";"{20 + u}"' if u % 2 else
                     f'"{u}";"town {u}, uk";NULL' for u in range(1, 6)],
    "BX-Book-Ratings.csv": ['"User-ID";"ISBN";"Book-Rating"'] +
                           [f'"{u}";"00000000{(u * k) % 6 + 1}x";"{k % 11}"'
                            for u in range(1, 6) for k in range(1, 6)],
}
TABLE_CSV = {
    "log.csv": ["uid,iid,ts,genre,age"] +
               [f"u{u},i{(u + 2 * k) % 7},{100 + 3 * k + u},g{k % 3}|g{u % 2},"
                f"{20 + u}" for u in range(6) for k in range(4)],
}
TABLE_CSV_CONFIG = {"interactions": "log.csv", "user_id": "uid",
                    "item_id": "iid", "timestamp": "ts",
                    "item_features": {"genre": "token_seq"},
                    "user_features": {"age": "token"}}
TABLE_PARQUET_CONFIG = {"interactions": "log.parquet", "user_id": "u",
                        "item_id": "i", "timestamp": "t",
                        "items": "items.parquet",
                        "item_features": {"cat": "token"}}

CASES = {
    "movielens-100k": (ML100K, "latin-1", None),
    "movielens-1m": (ML1M, "latin-1", None),
    "movielens-csv": (MLCSV, "utf-8", None),
    "bookcrossing": (BX, "latin-1", None),
    "table-csv": (TABLE_CSV, "utf-8", TABLE_CSV_CONFIG),
    "table-parquet": ({}, "utf-8", TABLE_PARQUET_CONFIG),
}


def _write_case(name: str, directory: str) -> None:
  files, encoding, _ = CASES[name]
  os.makedirs(directory)
  for file_name, lines in files.items():
    with open(os.path.join(directory, file_name), "w", encoding=encoding,
              newline="") as f:
      f.write("".join(line + "\n" for line in lines))
  if name == "table-parquet":
    import pyarrow as pa
    import pyarrow.parquet as pq
    users = [f"p{u}" for u in range(5) for _ in range(4)]
    items = [f"x{(u * 3 + k) % 6}" for u in range(5) for k in range(4)]
    times = [float(1000 + 5 * k - u) for u in range(5) for k in range(4)]
    pq.write_table(pa.table({"u": users, "i": items, "t": times}),
                   os.path.join(directory, "log.parquet"), row_group_size=7)
    pq.write_table(pa.table({"i": [f"x{k}" for k in range(6)],
                             "cat": [f"c{k % 2}" for k in range(6)]}),
                   os.path.join(directory, "items.parquet"))


def capture_one(source: str, data_format: str, config, out_dir: str):
  """ExampleGen over source: its examples per split and its catalog."""
  from golden import capture as data_capture
  from cdnrec.components import local
  from cdnrec.core import artifacts
  from cdnrec.core import example_io
  examples, catalog, _ = local.run_example_gen(
      local.DataArtifacts(out_dir), source, data_format=data_format,
      reader_config=config, max_bad_rows=100)
  return {
      "splits": {s: data_capture._records(example_io.split_pattern(
          examples.uri, s)) for s in example_io.SPLITS},
      "catalog": data_capture._records(os.path.join(
          catalog.uri, artifacts.CATALOG_FILE)),
  }


def capture(work_dir: str):
  out = {}
  for name, (_, _, config) in CASES.items():
    source = os.path.join(work_dir, name + "-data")
    _write_case(name, source)
    data_format = "table" if name.startswith("table") else name
    out[name] = capture_one(source, data_format, config,
                            os.path.join(work_dir, name))
  return out


if __name__ == "__main__":
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))
  with tempfile.TemporaryDirectory() as tmp:
    result = capture(tmp)
  with open(sys.argv[1], "w") as f:
    json.dump(result, f, sort_keys=True, separators=(",", ":"))
    f.write("\n")
