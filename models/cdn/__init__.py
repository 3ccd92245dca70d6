"""The Cross Decoupling Network (Zhang et al., KDD 2023), in small pieces:

  adapter.py     the γ-adapter schedule α_t (Eq. 6)
  gate.py        the frequency gate over item experts (§3.1.2)
  item_tower.py  memorization / generalization experts (Eq. 3)
  user_tower.py  shared sub-network f with main / regularizer heads (Eq. 4)
  model.py       the tfrs.Model with the cross-learning loss (Eq. 5, 7, 8)
"""
