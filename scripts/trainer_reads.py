"""Times the Trainer's reads of an ExampleGen output, for side-by-side runs
of two checkouts (PYTHONPATH=CHECKOUT picks the code under test):

  vocabulary  cdnrec.models.inputs.learn_vocabularies over the train split
              and the catalog (the pass before the Trainer's first epoch);
  readers     the train files' records through three tf.data readers:
              sequential, TFRecordDataset's num_parallel_reads=2, and
              files interleaved two at a time in blocks (what
              inputs.examples_dataset uses since 526dabf).

Usage: python scripts/trainer_reads.py {vocabulary,readers} ROOT
where ROOT holds `examples/` and `item_catalog/` (e.g. a `cdnrec bench
beam` output: runs/bench/beam_sbs5b/n5000000/in_memory_1). Prints one JSON
line per measurement.
"""

import glob
import json
import os
import resource
import sys
import time


def _vocabulary(root: str) -> None:
  from cdnrec.core import features as F
  from cdnrec.models import inputs
  with open(os.path.join(root, "item_catalog", "features.json")) as f:
    config = F.FeatureConfig.from_json(f.read())
  started = time.perf_counter()
  vocab = inputs.learn_vocabularies(
      [os.path.join(root, "examples", "Split-train", "*")],
      [os.path.join(root, "item_catalog", "catalog.tfrecord.gz")], config)
  print(json.dumps({
      "measure": "vocabulary", "code": inputs.__file__,
      "seconds": round(time.perf_counter() - started, 1),
      "peak_gb": round(resource.getrusage(
          resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
      "sizes": {k: len(v) for k, v in vocab.tokens.items()}}), flush=True)


def _readers(root: str) -> None:
  import tensorflow as tf
  files = sorted(glob.glob(os.path.join(root, "examples", "Split-train",
                                        "*")))[:2]
  readers = {
      "sequential": lambda: tf.data.TFRecordDataset(
          files, compression_type="GZIP"),
      "num_parallel_reads=2": lambda: tf.data.TFRecordDataset(
          files, compression_type="GZIP", num_parallel_reads=2),
      "interleaved in blocks of 1024": lambda: tf.data.Dataset
      .from_tensor_slices(files).interleave(
          lambda f: tf.data.TFRecordDataset(
              f, compression_type="GZIP").batch(1024),
          cycle_length=2, num_parallel_calls=2).unbatch(),
  }
  for name, make in readers.items():
    started, records = time.perf_counter(), 0
    for batch in make().batch(1 << 16).prefetch(1):
      records += int(batch.shape[0])
    print(json.dumps({"measure": "readers", "reader": name, "files":
                      len(files), "records": records, "seconds": round(
                          time.perf_counter() - started, 1)}), flush=True)


def main() -> int:
  if len(sys.argv) != 3 or sys.argv[1] not in ("vocabulary", "readers"):
    print(__doc__, file=sys.stderr)
    return 2
  {"vocabulary": _vocabulary, "readers": _readers}[sys.argv[1]](sys.argv[2])
  return 0


if __name__ == "__main__":
  sys.exit(main())
