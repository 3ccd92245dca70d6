"""The contracts every layer shares: the feature contract, artifact types and
file layouts, tf.Example encoding, the leave-one-out split, the head/tail and
Ω_r rules, and the retrieval metrics. Imports nothing above itself."""
