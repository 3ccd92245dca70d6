"""ItemStatsGen's executor on a generated Examples artifact, as its own
process so `cdnrec bench beam` can measure its wall time and the memory of
its process tree (Beam's workers included).

  python -m cdnrec.bench.item_stats_job SOURCE OUT BEAM_ARGS_JSON

Prints the written summary.json.
"""

import json
import os
import sys
from typing import List, Optional

from cdnrec.components import local
from cdnrec.core import item_stats


def main(argv: Optional[List[str]] = None) -> int:
  source, out, beam_args = (argv if argv is not None else sys.argv[1:])
  outputs = local.DataArtifacts(out)
  local.run_item_stats(outputs, head_fraction=item_stats.HEAD_FRACTION,
                       seed=0, beam_args=json.loads(beam_args),
                       examples_uri=os.path.join(source, "examples"),
                       item_catalog_uri=os.path.join(source, "catalog"))
  with open(os.path.join(outputs.uri("item_stats"),
                         item_stats.SUMMARY_FILE)) as f:
    print(f.read())
  return 0


if __name__ == "__main__":
  sys.exit(main())
