"""Attention statistics for the glass box: how spread out each head's attention is, and which heads collapsed.

For the attention probabilities P (batch, heads, T_q, T_k) of a ``MultiHeadAttention`` layer
(``layer.last_attention_scores``) and a query row i with n_i keys it may attend to (n_i >= 2):

    H_i = -sum_j P_ij log P_ij              (entropy, in nats; 0 log 0 = 0)
    h_i = H_i / log n_i                     (normalized: 0 = all weight on one key, 1 = uniform)

A head's entropy is the mean of h_i over the batch and the rows with n_i >= 2 (a row that may see only one
key, such as the first position under a causal mask, says nothing). A head is reported as collapsed
when its normalized entropy is below ``low`` (it always looks at one key) or above ``high`` (it averages
everything uniformly, like a mean pool): both are heads that carry little position-specific information.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._typing import Array


def head_entropy(scores: Array, attention_mask: Any = None) -> Array:
    """Normalized entropy per head, shape (heads,), of P (batch, heads, T_q, T_k).

    ``attention_mask`` (broadcastable to (batch, T_q, T_k), True = may attend) gives n_i; without it the
    keys with P > 0 count as allowed (masked keys have P = 0 exactly)."""
    p = np.asarray(scores, dtype=np.float64)
    if p.ndim != 4:
        raise ValueError(f"head_entropy expects attention scores (batch, heads, T_q, T_k), got shape {p.shape}; "
                         "hint: use MultiHeadAttention.last_attention_scores")
    if attention_mask is None:
        allowed = p > 0
    else:
        mask = np.asarray(attention_mask, dtype=bool)
        allowed = np.broadcast_to(mask.reshape((1,) * (3 - mask.ndim) + mask.shape)[:, None], p.shape)
    n = allowed.sum(axis=-1)  # (batch, heads, T_q)
    logs = np.log(np.where(p > 0, p, 1.0))
    entropy = -(p * logs).sum(axis=-1)
    rows = n >= 2
    normalized = np.where(rows, entropy / np.log(np.maximum(n, 2)), 0.0)
    counts = rows.sum(axis=(0, 2))
    return np.where(counts > 0, normalized.sum(axis=(0, 2)) / np.maximum(counts, 1), np.nan)


def collapsed_heads(entropies: Array, low: float = 0.05, high: float = 0.95) -> list[tuple[int, str]]:
    """(head index, "one key" | "uniform") for each head whose normalized entropy is < low or > high."""
    found = []
    for h, value in enumerate(np.asarray(entropies, dtype=np.float64)):
        if value < low:
            found.append((h, "one key"))
        elif value > high:
            found.append((h, "uniform"))
    return found


__all__ = ["collapsed_heads", "head_entropy"]
