"""`cdnrec bench NAME [flags]`: benchmarks are scripts that print figures;
each owns its flags (`cdnrec bench NAME --help`)."""

import importlib
import sys
from typing import List

BENCHMARKS = {"train": "cdnrec.bench.train",
              "retrieval": "cdnrec.bench.retrieval",
              "beam": "cdnrec.bench.beam",
              "pipeline": "cdnrec.bench.pipeline",
              "profile": "cdnrec.bench.profile",
              "scale": "cdnrec.bench.scale",
              "serve": "cdnrec.bench.serve",
              "tune": "cdnrec.bench.tune"}


def main(argv: List[str]) -> int:
  if not argv or argv[0] not in BENCHMARKS:
    print(f"usage: cdnrec bench {{{','.join(BENCHMARKS)}}} [flags]",
          file=sys.stderr)
    return 2
  return importlib.import_module(BENCHMARKS[argv[0]]).main(argv[1:])
