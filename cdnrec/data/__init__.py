"""Datasets: the RecBole atomic-file layout the pipeline reads, and generators."""
