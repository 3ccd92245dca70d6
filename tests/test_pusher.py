"""TF Serving's versioned layout: atomic versions that only increase, and
retention."""

import os

import pytest

from cdnrec.components.pusher import versions


def _saved_model(path, content="v"):
  os.makedirs(os.path.join(path, "variables"), exist_ok=True)
  with open(os.path.join(path, "saved_model.pb"), "w") as f:
    f.write(content)
  return str(path)


def test_versions_increase_even_when_the_clock_does_not(tmp_path):
  base = str(tmp_path / "serving")
  first = versions.next_version([base], now=1000)
  versions.publish(_saved_model(tmp_path / "m1"), base, first)
  second = versions.next_version([base], now=1000)
  assert second == first + 1
  assert versions.next_version([base], now=5000) == 5000


def test_publish_leaves_only_complete_numbered_folders(tmp_path):
  base = str(tmp_path / "serving")
  final = versions.publish(_saved_model(tmp_path / "m1"), base, 7)
  assert final == os.path.join(base, "7")
  assert os.listdir(base) == ["7"]  # no staging folder left behind
  assert os.path.exists(os.path.join(final, "saved_model.pb"))
  with pytest.raises(FileExistsError, match="versions never change"):
    versions.publish(_saved_model(tmp_path / "m2"), base, 7)


def test_a_failed_copy_leaves_nothing_half_written(tmp_path, monkeypatch):
  base = str(tmp_path / "serving")
  versions.publish(_saved_model(tmp_path / "m1"), base, 1)

  def broken_copy(source, destination):
    os.makedirs(destination)
    open(os.path.join(destination, "saved_model.pb"), "w").close()
    raise OSError("disk full")
  monkeypatch.setattr(versions.shutil, "copytree", broken_copy)
  with pytest.raises(OSError, match="disk full"):
    versions.publish(_saved_model(tmp_path / "m2"), base, 2)
  assert os.listdir(base) == ["1"]


def test_not_a_saved_model_is_refused(tmp_path):
  os.makedirs(tmp_path / "empty")
  with pytest.raises(FileNotFoundError, match="no saved_model.pb"):
    versions.publish(str(tmp_path / "empty"), str(tmp_path / "serving"), 1)


def test_prune_keeps_the_newest(tmp_path):
  base = str(tmp_path / "serving")
  for v in (1, 2, 3, 4):
    versions.publish(_saved_model(tmp_path / f"m{v}"), base, v)
  assert versions.prune(base, keep=2, protect=4) == [1, 2]
  assert versions.versions(base) == [3, 4]
  with pytest.raises(ValueError, match="keep must be >= 1"):
    versions.prune(base, keep=0, protect=4)


def test_a_version_remembers_the_model_it_came_from(tmp_path):
  base = str(tmp_path / "serving")
  final = versions.publish(_saved_model(tmp_path / "m1"), base, 3,
                           origin_uri="/pipeline/Trainer/model/12")
  assert versions.origin(final) == "/pipeline/Trainer/model/12"
  assert versions.origin(str(tmp_path / "m1")) == ""
