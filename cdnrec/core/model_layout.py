"""What the Trainer writes inside its Model artifact, and where.

The Model artifact holds one folder per format, beside TFX's own
Format-Serving (the ScaNN SavedModel):

  Format-Serving/             user tower + ScaNN index (needs ScaNN's ops)
  Format-Serving-BruteForce/  user tower + brute-force index (stock TF ops)
  Format-Embeddings/          every catalog item's embedding, for exact
                              full-corpus evaluation
  Format-Checkpoint/          every weight and its vocabularies, to
                              warm-start the next run

The Trainer, the Evaluator and the Pusher all read these names from here.
"""

import os

import numpy as np

SCANN_FORMAT = "Format-Serving"
BRUTE_FORCE_FORMAT = "Format-Serving-BruteForce"
EMBEDDINGS_FORMAT = "Format-Embeddings"
CHECKPOINT_FORMAT = "Format-Checkpoint"
ITEM_IDS_FILE = "item_ids.txt"
ITEM_EMBEDDINGS_FILE = "item_embeddings.npy"


def _beside(serving_model_dir: str, name: str) -> str:
  return os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), name)


def brute_force_dir(serving_model_dir: str) -> str:
  """The brute-force variant beside the Trainer's (ScaNN) Format-Serving."""
  return _beside(serving_model_dir, BRUTE_FORCE_FORMAT)


def embeddings_dir(serving_model_dir: str) -> str:
  """Format-Embeddings beside the Trainer's Format-Serving folder."""
  return _beside(serving_model_dir, EMBEDDINGS_FORMAT)


def checkpoint_dir(serving_model_dir: str) -> str:
  """Format-Checkpoint beside the Trainer's Format-Serving folder."""
  return _beside(serving_model_dir, CHECKPOINT_FORMAT)


def write_item_embeddings(directory: str, ids: np.ndarray,
                          vectors: np.ndarray) -> None:
  os.makedirs(directory, exist_ok=True)
  with open(os.path.join(directory, ITEM_IDS_FILE), "w") as f:
    f.writelines(i.decode() + "\n" for i in ids)
  np.save(os.path.join(directory, ITEM_EMBEDDINGS_FILE), vectors)


def read_item_embeddings(directory: str):
  """(item ids as str, embeddings [n_items, dim])."""
  with open(os.path.join(directory, ITEM_IDS_FILE)) as f:
    ids = np.array([line.rstrip("\n") for line in f])
  return ids, np.load(os.path.join(directory, ITEM_EMBEDDINGS_FILE))
