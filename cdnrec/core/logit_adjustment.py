"""Post-hoc logit adjustment (Menon et al., ICLR 2021) of a trained
retrieval model: every item's score is lowered by τ·log π_i, its prior.

A model trained with softmax on interaction logs learns scores that
include log π_i; subtracting τ of it at retrieval time trades head for
tail items without retraining (τ = 0: the model as trained; τ = 1: the
prior removed). The adjustment is one more embedding dimension, so any
inner-product index (brute force, ScaNN) serves it unchanged:
[u, 1] · [v, −τ·T·log π] = u·v − τ·T·log π, which ranks as the logits
u·v / T − τ·log π do.
"""

import numpy as np


def log_prior(frequencies: np.ndarray) -> np.ndarray:
  """log π_i of items with training frequencies n_i, add-one smoothed so an
  item never seen in training has a finite prior below every seen one's."""
  n = np.asarray(frequencies, dtype=np.float64)
  if n.ndim != 1 or (n < 0).any():
    raise ValueError("frequencies must be a vector of counts >= 0")
  return np.log((n + 1.0) / (n.sum() + len(n)))


def adjusted_users(user_vectors: np.ndarray) -> np.ndarray:
  """[n, d] user vectors -> [n, d + 1], the last coordinate 1."""
  user_vectors = np.asarray(user_vectors)
  return np.concatenate(
      [user_vectors, np.ones((len(user_vectors), 1), user_vectors.dtype)],
      axis=1)


def adjusted_items(item_vectors: np.ndarray, log_prior_: np.ndarray,
                   tau: float, temperature: float) -> np.ndarray:
  """[n_items, d] item vectors -> [n_items, d + 1], the last coordinate
  −τ·T·log π_i, so adjusted_users(u) · adjusted_items(v) ranks items as
  u·v / T − τ·log π_i.

  Args:
    log_prior_: [n_items] log π_i (log_prior).
    tau: strength, on the scale of the training logits u·v / temperature.
    temperature: the model's softmax temperature.
  """
  item_vectors = np.asarray(item_vectors)
  if temperature <= 0:
    raise ValueError(f"temperature must be > 0, got {temperature}")
  if len(log_prior_) != len(item_vectors):
    raise ValueError(f"{len(log_prior_)} priors for {len(item_vectors)} "
                     f"items")
  bias = (-tau * temperature * np.asarray(log_prior_)).astype(
      item_vectors.dtype)
  return np.concatenate([item_vectors, bias[:, None]], axis=1)
