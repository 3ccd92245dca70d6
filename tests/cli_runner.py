"""Runs `cdnrec ...` in the test process (no interpreter start, no second
import of TensorFlow), capturing what it and its child processes print."""

import contextlib
import os
import sys
import tempfile
from typing import Iterator, List, Tuple

from cdnrec import cli


@contextlib.contextmanager
def _captured_fds() -> Iterator[List[str]]:
  """Points file descriptors 1 and 2 at temporary files; the list gets the
  text written to each, stdout first, when the block ends."""
  sys.stdout.flush()
  sys.stderr.flush()
  out: List[str] = []
  saved = [os.dup(1), os.dup(2)]
  files = [tempfile.TemporaryFile(mode="w+"), tempfile.TemporaryFile(mode="w+")]
  try:
    for fd, f in zip((1, 2), files):
      os.dup2(f.fileno(), fd)
    with contextlib.redirect_stdout(files[0]), \
         contextlib.redirect_stderr(files[1]):
      yield out
  finally:
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, saved_fd in zip((1, 2), saved):
      os.dup2(saved_fd, fd)
      os.close(saved_fd)
    for f in files:
      f.flush()
      f.seek(0)
      out.append(f.read())
      f.close()


def run(*args: str) -> Tuple[int, str, str]:
  """(exit status, stdout, stderr) of `cdnrec ARGS`."""
  with _captured_fds() as out:
    code = cli.main(list(args))
  return code, out[0], out[1]
