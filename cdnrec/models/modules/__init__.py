"""Single-purpose layers the models are assembled from.

  encoders.py              feature embeddings (ids, token lists, numbers)
  towers.py                the MLP tower of the two-tower model
  expert_item_tower.py     CDN's memorization / generalization experts (Eq. 3)
  gate.py                  the frequency gate over item experts (§3.1.2)
  bilateral_user_tower.py  shared sub-network f, main / regularizer heads (Eq. 4)
  adapter.py               the γ-adapter schedule α_t (Eq. 6)
  loss.py                  batch softmax loss with the sampling correction
  sampling.py              candidate sampling probabilities and weights
  distinct_items.py        running the item tower once per distinct item
"""
