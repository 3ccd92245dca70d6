"""The end-to-end pipeline: one pure `create_pipeline` and a runner per
orchestrator (local, Vertex AI / Kubeflow)."""
