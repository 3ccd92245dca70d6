"""Defaults of the embedded local run. Upper-case settings only."""

PIPELINE_NAME = "cdnrec"
RUN_FN = "models.trainer.run_fn"
HEAD_FRACTION = 0.2
SEED = 0

# In-memory DirectRunner: on 2 cores, starting worker processes (each
# importing TensorFlow) costs more than it saves on the default data.
# Distributed runners take their own args, e.g. ['--runner=DataflowRunner',
# '--project=...', '--region=...', '--temp_location=gs://...'].
BEAM_PIPELINE_ARGS = ["--direct_running_mode=in_memory",
                      "--direct_num_workers=1"]
