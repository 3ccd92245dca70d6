"""`cdnrec stats`: a dataset's Table 7 figures (users, items, sparsity,
imbalance factor, head/tail) under the leave-one-out split."""

import argparse
import dataclasses
import json

from cdnrec.cli import flags


def add_parser(sub, name: str) -> None:
  parser = sub.add_parser(name, help="the dataset's Table 7 figures")
  flags.add_data(parser)
  parser.add_argument("--json", action="store_true", help="print JSON")


def main(args: argparse.Namespace) -> int:
  from cdnrec.data import readers
  from cdnrec.data import stats
  if not args.data_dir:
    raise SystemExit(f"error: --data {args.data} needs --data-dir PATH")
  head_fraction = (args.head_fraction if args.head_fraction is not None
                   else readers.head_fraction(args.data))
  tables, report = readers.make(args.data, flags.reader_config(args)).read(
      args.data_dir, readers.ReadOptions(args.max_bad_rows))
  result = stats.compute(tables, head_fraction)
  if args.json:
    print(json.dumps({**dataclasses.asdict(result),
                      "bad_rows": report.bad_rows}, indent=2))
    return 0
  print(f"{args.data} in {args.data_dir} (head = top "
        f"{100 * head_fraction:g}% of items by train frequency; "
        f"leave-one-out split):")
  print(result.table())
  if report.bad_rows:
    print(f"skipped {report.bad_rows} bad rows, e.g. {report.bad_examples[0]}")
  for note in report.notes:
    print(note)
  return 0
