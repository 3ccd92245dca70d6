"""Warm-starting a model from an earlier run's weights (incremental runs).

The Trainer saves every weight of the trained model (both branches, the
item tower, the gate) with the vocabularies they were learned on. A new run
whose data grew keeps what it can: a weight of the same name and shape is
copied; an embedding table whose vocabulary changed is copied row by row
for the tokens both runs know (new tokens keep their fresh initialization);
anything else is left as initialized and named in the log.

Example:
  save(trained.built.model, vocab, "<model>/Format-Checkpoint")
  # next run, after building (and calling once) a model of the same kind:
  report = restore(new_model, new_vocab, "<old model>/Format-Checkpoint")
"""

import json
import logging
import os
import re
from typing import Dict, List

import numpy as np
import tensorflow as tf

from cdnrec.models import inputs

_WEIGHTS = "weights.npz"
_VOCABULARIES = "vocabularies.json"
# Embedding tables of FeatureEncoder: "<feature>_embedding/embeddings:0".
_EMBEDDING = re.compile(r"(?:^|/)([^/]+)_embedding/embeddings:0$")
_log = logging.getLogger("cdnrec.trainer")



def save(model: tf.keras.Model, vocab: inputs.Vocabularies,
         directory: str) -> None:
  os.makedirs(directory, exist_ok=True)
  arrays = {f"{i:05d}": w.numpy() for i, w in enumerate(model.weights)}
  names = [w.name for w in model.weights]
  np.savez(os.path.join(directory, _WEIGHTS), names=np.array(names),
           **arrays)
  with open(os.path.join(directory, _VOCABULARIES), "w") as f:
    json.dump(vocab.tokens, f)


def exists(directory: str) -> bool:
  return os.path.exists(os.path.join(directory, _WEIGHTS))


def restore(model: tf.keras.Model, vocab: inputs.Vocabularies,
            directory: str) -> Dict[str, List[str]]:
  """Copies the saved weights into `model` (already built).

  Returns {"copied": [...], "remapped": [...], "skipped": [...]} names.
  """
  with np.load(os.path.join(directory, _WEIGHTS)) as saved:
    names = [str(n) for n in saved["names"]]
    values = [saved[f"{i:05d}"] for i in range(len(names))]
  with open(os.path.join(directory, _VOCABULARIES)) as f:
    old_tokens = json.load(f)
  # Keras numbers unnamed layers per process (dense_6 here, dense_0 there),
  # so weights pair by position in the same architecture, checked by their
  # names without those numbers; otherwise by exact name.
  if [_unnumbered(n) for n in names] == [_unnumbered(w.name)
                                         for w in model.weights]:
    old = {w.name: v for w, v in zip(model.weights, values)}
  else:
    old = dict(zip(names, values))
  report = {"copied": [], "remapped": [], "skipped": []}
  for weight in model.weights:
    value = old.get(weight.name)
    match = _EMBEDDING.search(weight.name)
    if value is None:
      report["skipped"].append(weight.name)
    elif match and old_tokens.get(match.group(1)) != vocab.tokens.get(
        match.group(1)):
      weight.assign(_remap_rows(value, weight.numpy(),
                                old_tokens.get(match.group(1), []),
                                vocab.tokens.get(match.group(1), [])))
      report["remapped"].append(weight.name)
    elif value.shape == tuple(weight.shape):
      weight.assign(value)
      report["copied"].append(weight.name)
    else:
      report["skipped"].append(weight.name)
  _log.info("warm start from %s: %d weights copied, %d embedding tables "
            "remapped by token, %d left as initialized %s", directory,
            len(report["copied"]), len(report["remapped"]),
            len(report["skipped"]), report["skipped"])
  return report


def _unnumbered(name: str) -> str:
  return re.sub(r"_\d+(?=/)", "", name)


def _remap_rows(old: np.ndarray, new: np.ndarray, old_vocab: List[str],
                new_vocab: List[str]) -> np.ndarray:
  """Row 0 is the OOV bucket; row i + 1 is vocabulary token i."""
  if old.shape[1:] != new.shape[1:]:
    return new
  out = new.copy()
  out[0] = old[0]
  position = {token: i + 1 for i, token in enumerate(old_vocab)}
  for j, token in enumerate(new_vocab):
    i = position.get(token)
    if i is not None and i < len(old):
      out[j + 1] = old[i]
  return out
