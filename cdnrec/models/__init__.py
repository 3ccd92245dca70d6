"""Retrieval models and their training.

  modules/     single-purpose layers: feature encoders, towers, CDN's item
               experts and gate, its bilateral user tower, the γ-adapter,
               the batch softmax loss, sampling corrections
  two_tower.py, cdn.py   models assembled from modules
  registry.py  builds the model a TrainConfig names (CDN, two-tower and
               the baselines of the paper's tables)
  config.py    TrainConfig, the typed training settings
  training.py  fits a model from the pipeline's artifacts
  export.py    the serving SavedModel: user tower + ScaNN / brute-force index
  trainer.py   the TFX Trainer's run_fn
"""
