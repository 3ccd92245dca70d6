"""Every method of the comparison builds and trains on tiny generated data."""

import numpy as np
import pytest
import tensorflow as tf

from components import example_io
from models import config as config_lib
from models import registry
from models import training


@pytest.mark.parametrize("model", registry.MODELS)
def test_method_trains_a_few_steps(tiny_artifacts, model):
  examples = tiny_artifacts["examples"].uri
  data = training.TrainingInputs(
      train_files=[example_io.split_pattern(examples, "train")],
      eval_files=[example_io.split_pattern(examples, "eval")],
      item_catalog_uri=tiny_artifacts["item_catalog"].uri,
      item_stats_uri=tiny_artifacts["item_stats"].uri,
      rebalanced_uri=tiny_artifacts["rebalanced_examples"].uri)
  config = config_lib.TrainConfig(model=model, epochs=2, batch_size=128,
                                  gamma=1.5)
  trained = training.fit(data, config, verbose=0)
  assert len(trained.history["loss"]) == 2
  assert np.all(np.isfinite(trained.history["loss"]))
  ids, vectors = trained.item_embeddings(data)
  assert vectors.shape == (len(ids), 64)
  assert np.all(np.isfinite(vectors))
  tf.keras.backend.clear_session()


def test_unknown_model_is_refused():
  with pytest.raises(ValueError, match="model must be one of"):
    config_lib.TrainConfig.from_dict({"model": "three_tower"})
