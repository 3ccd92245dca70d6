"""Whether two folders of GZIP TFRecord files of tf.Examples hold the same
examples, as a multiset (order ignored): e.g. two runs' Ω_r. Examples are
compared in protobuf's deterministic serialization (features sorted by
name), so two writers that order an example's features differently
compare equal.

  .venv/bin/python scripts/same_records.py A/rebalanced_examples/Split-train \
      B/rebalanced_examples/Split-train

Prints each side's record count and whether the sorted SHA-1 digests of
the examples are equal; exits 1 when they are not.
"""

import glob
import hashlib
import os
import sys

import cdnrec  # noqa: F401  (sets TensorFlow's environment before it loads)
import tensorflow as tf


def digests(folder: str):
  files = sorted(glob.glob(os.path.join(folder, "*.gz")))
  if not files:
    raise SystemExit(f"{folder}: no *.gz files")
  out = []
  for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(
      1 << 16):
    out.extend(hashlib.sha1(tf.train.Example.FromString(r).SerializeToString(
        deterministic=True)).digest() for r in batch.numpy().tolist())
  return sorted(out)


def main(argv) -> int:
  if len(argv) != 2:
    raise SystemExit(__doc__)
  a, b = (digests(folder) for folder in argv)
  print(f"{argv[0]}: {len(a)} records\n{argv[1]}: {len(b)} records\n"
        f"same examples: {a == b}")
  return 0 if a == b else 1


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
