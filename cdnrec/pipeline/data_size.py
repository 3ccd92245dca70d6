"""How many interactions a data folder holds, estimated from its bytes
before any component reads it: StatisticsGen samples big logs."""

import os
from typing import Optional

# StatisticsGen computes statistics over all examples up to about this many,
# and over a random sample of this many above it: validation needs the
# value distributions, which a million examples estimate well.
STATISTICS_EXAMPLES = 1_000_000
_PROBE_BYTES = 1 << 20


def estimated_rows(data_dir: str) -> Optional[int]:
  """Lines of the folder's largest file (the interaction log), from its
  size and the mean length of its first lines; None for a remote folder."""
  if "://" in data_dir or not os.path.isdir(data_dir):
    return None
  files = [os.path.join(d, f) for d, _, names in os.walk(data_dir)
           for f in names]
  if not files:
    return None
  largest = max(files, key=os.path.getsize)
  size = os.path.getsize(largest)
  with open(largest, "rb") as f:
    probe = f.read(_PROBE_BYTES)
  lines = probe.count(b"\n")
  if not lines:
    return 1
  return int(size / (len(probe) / lines))


def statistics_sample_rate(data_dir: str) -> Optional[float]:
  """TFDV's sample_rate for the data in data_dir (None: every example)."""
  rows = estimated_rows(data_dir)
  if rows is None or rows <= STATISTICS_EXAMPLES:
    return None
  return STATISTICS_EXAMPLES / rows
