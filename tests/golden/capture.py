"""What the data components wrote, in a form two code versions can compare.

`python tests/golden/capture.py OUT.json` runs ExampleGen and ItemStatsGen of
the cdnrec on sys.path over two inputs (the hand-written toy files and a
small generated log) and writes every example, the catalog, the item
statistics and Ω_r as sorted JSON. tests/golden/data_components.json was
captured this way with the row-by-row components, before the columnar
rewrite (docs/design.md names the commit); test_golden.py re-captures
with today's code and compares.
"""

import glob
import json
import os
import sys
import tempfile

import cdnrec  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)

# Ids of tests/test_example_gen.py's toy files and tests/conftest.py's TINY.
TOY = {
    "inter": "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
             "u1\tm1\t5\t100\nu1\tm2\t3\t200\nu2\tm2\t4\t150\nu1\tm3\t4\t300\n"
             "u1\tm4\t2\t300\nu2\tm1\t1\t50\nu2\tm3\t5\t400\nu3\tm1\t4\t10\n"
             "u3\tm5\t2\t20\nu3\tm2\t2\t30\nu4\tm2\t1\t1\nu4\tm3\t1\t2\n"
             "u4\tm4\t1\t3\nu4\tm5\t1\t4\nu4\tm6\t1\t5\nu5\tm1\t1\t1\n"
             "u5\tm2\t1\t2\nu5\tm5\t1\t3\nu5\tm3\t1\t4\nu4\tm1\t1\t6\n",
    "item": "item_id:token\tgenres:token_seq\tyear:float\n"
            "m1\tdrama comedy\t1990\nm2\tdrama\t\nm3\thorror\t2001\n"
            "m4\t\t1977\nm5\twestern\t1960\nm6\tnoir\t1950\n",
    "user": "user_id:token\tage:token\nu1\t25\nu2\t31\nu3\t40\nu4\t\nu5\t19\n",
}


def _records(pattern):
  import tensorflow as tf
  out = []
  for path in sorted(glob.glob(pattern)):
    for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
      f = tf.train.Example.FromString(record.numpy()).features.feature
      values = {k: [x.decode() if isinstance(x, bytes) else x for x in
                    (list(v.bytes_list.value) or list(v.int64_list.value)
                     or [round(x, 4) for x in v.float_list.value])]
                for k, v in sorted(f.items())}
      # A feature with no values parses exactly as an absent one.
      out.append({k: v for k, v in values.items() if v})
  return sorted(out, key=lambda r: json.dumps(r, sort_keys=True))


def capture(data_dir: str, root: str, head_fraction: float, seed: int):
  from cdnrec.components import local
  from cdnrec.core import artifacts
  from cdnrec.core import example_io
  from cdnrec.core import item_stats
  out = local.run_data_components(root, data_dir, head_fraction, seed=seed)
  with open(os.path.join(out.uri("item_stats"), item_stats.SUMMARY_FILE)) as f:
    summary = json.load(f)
  rows = item_stats.load_item_rows(out.uri("item_stats"))
  omega_r = _records(example_io.split_pattern(out.uri("rebalanced_examples"),
                                              "train"))
  return {
      "splits": {s: _records(out.split_pattern(s)) for s in example_io.SPLITS},
      "catalog": _records(os.path.join(out.uri("item_catalog"),
                                       artifacts.CATALOG_FILE)),
      "item_stats": [[r.item_id, r.item_index, r.frequency, r.is_head]
                     for r in rows],
      "summary": summary,
      "omega_r": sorted([r["user_id"][0], r["item_id"][0]] for r in omega_r),
  }


def capture_all(work_dir: str):
  from cdnrec.data import synthetic
  toy = os.path.join(work_dir, "toy_data")
  os.makedirs(toy)
  for ext, text in TOY.items():
    with open(os.path.join(toy, f"toy.{ext}"), "w") as f:
      f.write(text)
  tiny = os.path.join(work_dir, "tiny_data")
  synthetic.generate(synthetic.SyntheticConfig(
      n_users=200, n_items=120, n_interactions=1500, imbalance_factor=60,
      seed=7), tiny)
  return {"toy": capture(toy, os.path.join(work_dir, "toy"), 0.34, seed=0),
          "tiny_seed3": capture(tiny, os.path.join(work_dir, "tiny"), 0.2,
                                seed=3)}


if __name__ == "__main__":
  with tempfile.TemporaryDirectory() as tmp:
    result = capture_all(tmp)
  with open(sys.argv[1], "w") as f:
    json.dump(result, f, sort_keys=True, separators=(",", ":"))
    f.write("\n")
