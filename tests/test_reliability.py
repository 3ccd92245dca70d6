"""Fault classes, one case each: bad data, bad settings and flags, a push
that fails half way, a version folder that is broken, half-copied or
deleted under a running server. docs/reliability.md lists every class with
the test that shows it (server requests: tests/test_serving_http.py)."""

import json
import logging
import os

import numpy as np
import pytest

from cdnrec import cli
from cdnrec.components import local
from cdnrec.components.pusher import executor as pusher
from cdnrec.components.pusher import versions
from cdnrec.core import model_layout
from cdnrec.core import split
from cdnrec.core.errors import ConfigError


def _write(path, lines, encoding="utf-8"):
  os.makedirs(os.path.dirname(str(path)), exist_ok=True)
  with open(path, "w", encoding=encoding, newline="") as f:
    f.write("".join(line + "\n" for line in lines))


def _cli(argv, capsys):
  """(exit code, stderr lines) of the CLI, in this process."""
  code = cli.main(argv)
  return code, capsys.readouterr().err.strip().splitlines()


def _movielens_csv(directory, ratings, movies=None):
  _write(directory / "movies.csv", movies or [
      "movieId,title,genres", "1,Heat (1995),Action", "2,Up (2009),Comedy"])
  _write(directory / "ratings.csv", ["userId,movieId,rating,timestamp"] +
         ratings)
  return str(directory)


# -- bad data ---------------------------------------------------------------

@pytest.mark.parametrize("row,field,value", [
    ("1,2,4.0,nan", "timestamp", "nan"),
    ("1,2,4.0,inf", "timestamp", "inf"),
    ("1,2,4.0,1e23", "timestamp", "1e23"),
    ("1,2,4.0,-5", "timestamp", "-5"),
    ("1,2,nan,964982704", "rating", "nan"),
    ("1,2,-1,964982704", "rating", "-1"),
])
def test_bad_times_and_ratings_are_rejected_naming_line_and_field(
    tmp_path, capsys, row, field, value):
  data = _movielens_csv(tmp_path, ["1,1,4.0,964982703", row])
  code, err = _cli(["stats", "--data", "movielens-csv", "--data-dir", data],
                   capsys)
  assert code == 2 and len(err) == 2  # the count, then the row
  assert err[0] == "error: 1 bad row(s), more than --max-bad-rows=0; first " \
                   "ones:"
  assert err[1].strip().startswith(
      f"{data}/ratings.csv, line 3: field '{field}': ")
  assert err[1].endswith(f"got '{value}'")
  code, _ = _cli(["stats", "--data", "movielens-csv", "--data-dir", data,
                  "--max-bad-rows", "1"], capsys)
  assert code == 0  # skipped and counted


def test_the_split_refuses_a_timestamp_that_would_sort_anywhere():
  with pytest.raises(ValueError, match="expected a finite number"):
    split.split_codes(np.zeros(3, np.int64), np.array([1.0, np.nan, 2.0]),
                      np.arange(3), (), (), seed=0)


def test_a_duplicate_item_row_is_a_bad_row(tmp_path, capsys):
  data = _movielens_csv(tmp_path, ["1,1,4.0,964982703"], movies=[
      "movieId,title,genres", "1,Heat (1995),Action", "1,Up (2009),Comedy"])
  code, err = _cli(["stats", "--data", "movielens-csv", "--data-dir", data],
                   capsys)
  assert code == 2
  assert err[-1].strip() == (f"{data}/movies.csv, line 3: field 'movieId': '1' "
                     "appears again; expected one row per id")


def test_csv_records_the_csv_module_refuses_name_their_line(tmp_path,
                                                            capsys):
  long_title = "x" * (200 << 10)  # over the csv module's 128 KiB default
  data = _movielens_csv(tmp_path / "long", ["1,1,4.0,964982703"], movies=[
      "movieId,title,genres", f"1,{long_title} (1995),Action"])
  assert _cli(["stats", "--data", "movielens-csv", "--data-dir", data],
              capsys)[0] == 0
  data = _movielens_csv(tmp_path / "nul", ["1,1,4.0,964982703"], movies=[
      "movieId,title,genres", "1,He\0at (1995),Action"])
  code, err = _cli(["stats", "--data", "movielens-csv", "--data-dir", data],
                   capsys)
  assert code == 2 and len(err) == 1
  assert err[0].startswith(f"error: {data}/movies.csv, line 2: line "
                           "contains NUL")


# -- bad settings and flags -------------------------------------------------

@pytest.mark.parametrize("extra,message", [
    (["--columns", "interactions=t.csv,user_id=a,item_id=b,separator=;;"],
     "error: table mapping: separator ';;'; expected one character"),
    (["--columns", "interactions=t.csv,user_id=a,item_id=b,encoding=foo-bar"],
     "error: table mapping: encoding 'foo-bar' is not one Python knows"),
    (["--table-config", "list.json"],
     "error: --table-config {d}/list.json: expected a JSON object, got list"),
    (["--table-config", "binary.json"],
     "error: --table-config {d}/binary.json: not a UTF-8 JSON object"),
    (["--table-config", "missing.json"],
     "error: --table-config {d}/missing.json: No such file or directory"),
])
def test_table_settings_fail_in_one_line(tmp_path, capsys, extra, message):
  _write(tmp_path / "t.csv", ["a,b", "u,i"])
  _write(tmp_path / "list.json", ["[1, 2]"])
  with open(tmp_path / "binary.json", "wb") as f:
    f.write(b"\xff\xfe{")
  extra = [str(tmp_path / e) if e.endswith(".json") else e for e in extra]
  code, err = _cli(["stats", "--data", "table", "--data-dir", str(tmp_path)]
                   + extra, capsys)
  assert code == 2 and len(err) == 1
  assert err[0].startswith(message.format(d=tmp_path))


@pytest.mark.parametrize("flags,message", [
    (["--set", "nope=1"], "error: unknown training setting nope"),
    (["--epochs", "0"], "error: epochs must be >= 1, got 0"),
    (["--head-fraction", "1.5"], "error: head_fraction must be in (0, 1)"),
])
def test_run_checks_every_setting_before_any_work(tmp_path, capsys, flags,
                                                  message):
  code, err = _cli(["run", "--output", str(tmp_path / "run")] + flags,
                   capsys)
  assert code == 2 and len(err) == 1 and err[0].startswith(message)
  assert not os.path.exists(tmp_path / "run")  # nothing generated or run


def test_query_of_a_closed_port_is_one_line(capsys):
  import socket
  free = socket.socket()
  free.bind(("127.0.0.1", 0))
  port = free.getsockname()[1]
  free.close()
  code, err = _cli(["query", "--server", f"http://127.0.0.1:{port}",
                    "--user-id", "u1"], capsys)
  assert code == 2 and len(err) == 1
  assert err[0].startswith(f"error: cannot reach http://127.0.0.1:{port}")


# -- a push that fails half way ---------------------------------------------

def _model(path):
  for variant in (model_layout.SCANN_FORMAT, model_layout.BRUTE_FORCE_FORMAT):
    os.makedirs(os.path.join(path, variant, "variables"))
    with open(os.path.join(path, variant, "saved_model.pb"), "w") as f:
      f.write(variant)
  return str(path)


def _push(tmp_path, model_dir, run):
  from tfx.types import standard_artifacts
  model = local.artifact(standard_artifacts.Model, model_dir)
  blessing = local.artifact(standard_artifacts.ModelBlessing,
                            str(tmp_path / f"blessing{run}"))
  blessing.set_int_custom_property("blessed", 1)
  pushed = local.artifact(standard_artifacts.PushedModel,
                          str(tmp_path / f"pushed{run}"))
  pusher.Executor().Do(
      {"model": [model], "model_blessing": [blessing]},
      {"pushed_model": [pushed]},
      {pusher.SCANN_DIRECTORY: str(tmp_path / "serving" / "scann"),
       pusher.BRUTE_FORCE_DIRECTORY: str(tmp_path / "serving" / "brute"),
       pusher.KEEP_VERSIONS: 3})
  with open(os.path.join(str(tmp_path / f"pushed{run}"),
                         pusher.PUSH_FILE)) as f:
    return json.load(f)


def test_a_push_is_both_variants_or_nothing(tmp_path, monkeypatch):
  model_dir = _model(tmp_path / "model")
  real_copy = versions.shutil.copytree

  def disk_full_on_the_twin(source, destination, *args, **kwargs):
    if model_layout.BRUTE_FORCE_FORMAT in os.fspath(source):
      raise OSError(28, "No space left on device")
    return real_copy(source, destination, *args, **kwargs)
  monkeypatch.setattr(versions.shutil, "copytree", disk_full_on_the_twin)
  with pytest.raises(OSError, match="No space left"):
    _push(tmp_path, model_dir, 1)
  serving = tmp_path / "serving"
  # Neither variant appeared, and no staging folder is left.
  assert [os.listdir(serving / d) for d in ("scann", "brute")] == [[], []]
  monkeypatch.setattr(versions.shutil, "copytree", real_copy)
  first = _push(tmp_path, model_dir, 2)
  again = _push(tmp_path, model_dir, 3)  # the same model: no new version
  assert first["version"] == again["version"]
  assert versions.versions(str(serving / "scann")) == [first["version"]]
  assert versions.versions(str(serving / "brute")) == [first["version"]]


def test_an_orphan_half_pair_is_reported(tmp_path, caplog):
  model_dir = _model(tmp_path / "model")
  serving = tmp_path / "serving"
  os.makedirs(serving / "brute")
  versions.publish(os.path.join(model_dir, model_layout.SCANN_FORMAT),
                   str(serving / "scann"), 5)  # left by older code
  with caplog.at_level(logging.WARNING, logger="cdnrec.pusher"):
    record = _push(tmp_path, model_dir, 1)
  assert record["orphans"] == [5]
  assert "versions [5] exist in only some of" in caplog.text
  assert record["version"] > 5  # a new pair, not the orphan completed
  assert versions.complete_versions(
      [str(serving / "scann"), str(serving / "brute")]) == [record["version"]]


# -- version folders under a running server ---------------------------------

class _FakeModel:
  def __init__(self, path):
    if not os.path.exists(os.path.join(path, "ok")):
      raise OSError(f"{path}: no saved_model.pb")
    self.version = int(os.path.basename(path))


class _Clock:
  def __init__(self):
    self.now = 0.0

  def __call__(self):
    return self.now


def _version(base, number, ok=True):
  os.makedirs(os.path.join(base, str(number)), exist_ok=True)
  if ok:
    open(os.path.join(base, str(number), "ok"), "w").close()


def _holder(base, clock):
  from cdnrec.serving import holder
  return holder.ModelHolder(str(base), load=_FakeModel, clock=clock,
                            retry_first_seconds=10, retry_max_seconds=40)


def test_a_half_copied_version_is_served_once_complete(tmp_path, caplog):
  clock = _Clock()
  _version(tmp_path, 1)
  holder = _holder(tmp_path, clock)
  _version(tmp_path, 2, ok=False)  # seen while still being copied
  with caplog.at_level(logging.INFO, logger="cdnrec.serve"):
    assert not holder.refresh()
    assert not holder.refresh()  # unchanged: not tried again yet
    _version(tmp_path, 2)  # the copy completes: the folder changed
    assert holder.refresh()
  assert holder.current.version == 2
  assert "version 2 failed to load" in caplog.text
  assert "now serving version 2 (was 1)" in caplog.text


def test_a_broken_version_is_retried_with_back_off(tmp_path, caplog):
  clock = _Clock()
  _version(tmp_path, 1)
  holder = _holder(tmp_path, clock)
  _version(tmp_path, 2, ok=False)
  attempts = []
  with caplog.at_level(logging.ERROR, logger="cdnrec.serve"):
    for now in range(0, 100):
      clock.now = float(now)
      before = caplog.text.count("version 2 failed")
      holder.refresh()
      if caplog.text.count("version 2 failed") > before:
        attempts.append(now)
  # Tried at once, then after 10, 20, 40 and 40 seconds.
  assert attempts == [0, 10, 30, 70]
  assert holder.current.version == 1


def test_the_newest_version_that_loads_is_served(tmp_path):
  clock = _Clock()
  _version(tmp_path, 1)
  _version(tmp_path, 3, ok=False)
  holder = _holder(tmp_path, clock)
  assert holder.current.version == 1
  _version(tmp_path, 2)  # older than the broken 3, newer than 1
  assert holder.refresh() and holder.current.version == 2
  _version(tmp_path / "none", 3, ok=False)
  _version(tmp_path / "none", 4, ok=False)
  with pytest.raises(ConfigError, match=r"no version loads \(4: .*; 3: "):
    _holder(tmp_path / "none", clock)


def test_a_deleted_version_gives_way_or_is_reported(tmp_path, caplog):
  import shutil
  clock = _Clock()
  _version(tmp_path, 1)
  _version(tmp_path, 2)
  holder = _holder(tmp_path, clock)
  assert holder.current.version == 2
  shutil.rmtree(tmp_path / "2")
  with caplog.at_level(logging.INFO, logger="cdnrec.serve"):
    assert holder.refresh()
    assert holder.current.version == 1
    assert "now serving version 1 (was 2, deleted from disk)" in caplog.text
    shutil.rmtree(tmp_path / "1")
    assert not holder.refresh() and not holder.refresh()
  assert holder.current.version == 1  # still answering, from memory
  assert caplog.text.count("version 1 was deleted from") == 1


# -- Ctrl-C ----------------------------------------------------------------

@pytest.mark.slow
def test_killed_or_interrupted_training_then_a_rerun_resumes(tmp_path):
  import signal
  import subprocess
  import sys
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  command = [sys.executable, "-m", "cdnrec.cli", "run", "--output",
             str(tmp_path / "run"), "--users", "300", "--items", "300",
             "--interactions", "1900", "--imbalance-factor", "20",
             "--epochs", "40", "--baseline", "none"]

  def signalled_in_training(sig):
    # A new session, signalled as a whole, as Ctrl-C signals the
    # terminal's foreground process group.
    # SIGINT back to its default in the child: pytest-xdist's workers
    # ignore it, and a process started with SIGINT ignored keeps ignoring
    # it (as `nohup` and `&` in scripts intend).
    # Unbuffered, so that the epoch line is read while that epoch runs.
    run = subprocess.Popen(command, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, cwd=root,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"},
                           start_new_session=True, preexec_fn=lambda: (
                               signal.signal(signal.SIGINT, signal.SIG_DFL)))
    sent = False
    for line in run.stdout:
      if line.startswith("Epoch 3/"):
        os.killpg(run.pid, sig)
        sent = True
        break
    _, err = run.communicate(timeout=300)
    assert sent, f"no third epoch seen: {err[-2000:]}"
    return run.returncode, err

  code, _ = signalled_in_training(signal.SIGKILL)
  assert code == -signal.SIGKILL
  code, err = signalled_in_training(signal.SIGINT)
  assert code == 130, err[-3000:]
  assert err.strip().splitlines()[-1] == "cdnrec run: interrupted", err[-3000:]
  assert "Traceback" not in err, err[-3000:]
  rerun = subprocess.run(command, capture_output=True, text=True, cwd=root,
                         check=False, timeout=600)
  assert rerun.returncode == 0, rerun.stderr[-2000:]
  # The data components finished before the first kill: the reruns take
  # them from the cache (one execution's output each, however long the
  # cache lookup took on a busy machine); the Trainer runs again and the
  # model is pushed.
  for component, output in (("LeaveOneOutExampleGen", "examples"),
                            ("ItemStatsGen", "item_stats")):
    runs = os.listdir(tmp_path / "run" / "pipeline" / component / output)
    assert len(runs) == 1, (component, runs, rerun.stdout[-3000:])
  assert "model pushed as version" in rerun.stdout, rerun.stdout


def test_an_encoding_that_breaks_lines_is_refused(tmp_path, capsys):
  _write(tmp_path / "t.csv", ["a,b", "u,i"])
  code, err = _cli(["stats", "--data", "table", "--data-dir", str(tmp_path),
                    "--columns",
                    "interactions=t.csv,user_id=a,item_id=b,encoding=utf-16"],
                   capsys)
  assert code == 2 and len(err) == 1
  assert "encoding 'utf-16' does not write newlines and commas as single " \
         "bytes" in err[0]


def test_serve_refuses_an_idle_timeout_that_is_not_positive():
  from cdnrec.serving import server
  with pytest.raises(ConfigError, match="idle timeout must be > 0"):
    server.RetrievalServer(None, "m", "127.0.0.1", 0, idle_timeout=0)
