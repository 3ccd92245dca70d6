"""`cdnrec`: the command-line entry point; one module per command.

  cdnrec run         generate or read data, run the whole pipeline, push a
                     model and answer a sample query with it in a fresh process
  cdnrec experiment  compare methods over seeds (the paper's tables)
  cdnrec stats       the dataset's users, items, sparsity, imbalance, head/tail
  cdnrec query       ask a pushed model (or a server) for one user's top items
  cdnrec serve       answer TF Serving REST queries from pushed versions
  cdnrec compile     write the Vertex AI / Kubeflow pipeline spec
  cdnrec bench       benchmarks: train, retrieval, beam, pipeline, profile,
                     scale, serve
"""

from cdnrec import _environment  # noqa: F401  (before anything imports TF)

import argparse
import os
import sys
from typing import List, Optional

from cdnrec.cli import bench
from cdnrec.cli import compile as compile_command
from cdnrec.cli import experiment
from cdnrec.cli import query
from cdnrec.cli import run
from cdnrec.cli import serve
from cdnrec.cli import stats
from cdnrec.core import atomic
from cdnrec.core.errors import ConfigError

COMMANDS = {"run": run, "experiment": experiment, "stats": stats,
            "query": query, "serve": serve, "compile": compile_command}


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="cdnrec", description=__doc__,
      formatter_class=argparse.RawTextHelpFormatter)
  sub = parser.add_subparsers(dest="command", required=True)
  for name, command in COMMANDS.items():
    command.add_parser(sub, name)
  return parser


def main(argv: Optional[List[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  if argv[:1] == ["bench"]:
    # Benchmarks own their flags: `cdnrec bench NAME --help`.
    return bench.main(argv[1:])
  args = _parser().parse_args(argv)
  from cdnrec.serving import client
  try:
    return COMMANDS[args.command].main(args)
  except (ConfigError, atomic.DataFormatError, FileNotFoundError,
          client.ServerError) as e:
    # Bad input: the message names the setting, or the file, line and field
    # (or the server's reason); a traceback would only bury it.
    print(f"error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    # Components that finished are in ML Metadata and TFX's cache; the one
    # that was running published nothing. The interpreter's teardown is
    # skipped: threads it would stop (Beam's, TF's) could still print
    # their own KeyboardInterrupt after this line.
    print(f"cdnrec {args.command}: interrupted", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)
