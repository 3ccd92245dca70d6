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


def query_server(server: str, model_name: str, user: dict,
                 top: int = 5) -> Tuple[int, str, str]:
  """(exit status, stdout, stderr) of `cdnrec query --server ... --json` in
  a fresh process, as a user runs it: user_id and every other feature."""
  import subprocess
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  command = [sys.executable, "-m", "cdnrec.cli", "query", "--server", server,
             "--model-name", model_name, "--user-id", user["user_id"],
             "--top", str(top), "--json"]
  command += [f"--feature={n}={v}" for n, v in user.items() if n != "user_id"]
  result = subprocess.run(command, capture_output=True, text=True, cwd=root,
                          check=False)
  return result.returncode, result.stdout, result.stderr
