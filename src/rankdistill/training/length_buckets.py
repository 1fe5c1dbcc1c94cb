"""Scoring a training batch in length buckets: the same scores, less padding computed.

A training batch holds B query groups of N documents, padded to the longest of its B*N
pairs. On DL passages (88 tokens on average, p95 about 155) a batch of 32 pairs is about
a third padding, and the encoder spends that share of its FLOPs on tokens the attention
mask throws away. :func:`bucketed_scores` sorts the pairs by real length, cuts them into a
few buckets (:func:`plan_buckets`) and runs each bucket padded only to its own longest
pair, then puts the scores back in batch order. The loss and its gradients are those of
the single padded forward: a right-padded token never reaches a real token through the
mask, and the buckets' scores are concatenated before the loss sees them. (Dropout draws
its masks per bucket, so in training mode the noise is a different draw of the same
distribution.)

It needs right padding (``attention_mask`` 1 on a prefix of each row, as every
cross-encoder tokenizer pads); any other mask scores the batch in one forward.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rankdistill.students.base import StudentModel

# Fixed cost of one more forward + backward call (per-op framework overhead, smaller
# GEMMs), in padded tokens of work. A deliberately high guess: a MiniLM token costs about
# 0.5 ms to train on 2 CPU cores (train_precision.json: 3 s for 32 x 192 tokens), a call's
# overhead a few ms; a bucket is split off only where it saves more than this.
BUCKET_OVERHEAD_TOKENS = 64
MAX_BUCKETS = 4


def plan_buckets(
    lengths: list[int],
    overhead: int = BUCKET_OVERHEAD_TOKENS,
    max_buckets: int = MAX_BUCKETS,
) -> list[int]:
    """Ends (exclusive) of the buckets over ascending ``lengths`` that minimise the padded
    tokens computed plus ``overhead`` per bucket, with at most ``max_buckets`` buckets.

    Dynamic programming over the cut points; a bucket of sorted rows i..j-1 costs
    ``(j - i) * lengths[j - 1] + overhead``.
    """
    n = len(lengths)
    if n == 0:
        return []
    inf = float("inf")
    # best[k][j]: cheapest cover of rows 0..j-1 with k buckets; cut[k][j]: its last start.
    best = [[inf] * (n + 1) for _ in range(max_buckets + 1)]
    cut = [[0] * (n + 1) for _ in range(max_buckets + 1)]
    best[0][0] = 0.0
    for k in range(1, max_buckets + 1):
        for j in range(1, n + 1):
            for i in range(k - 1, j):
                cost = best[k - 1][i] + (j - i) * lengths[j - 1] + overhead
                if cost < best[k][j]:
                    best[k][j], cut[k][j] = cost, i
    k = min(range(1, max_buckets + 1), key=lambda b: best[b][n])
    ends, j = [], n
    while k > 0:
        ends.append(j)
        j, k = cut[k][j], k - 1
    return sorted(ends)


def is_right_padded(mask: Tensor) -> bool:
    """True when every row's ones come first (the form bucketing can trim)."""
    lengths = mask.sum(dim=1, keepdim=True)
    positions = torch.arange(mask.shape[1], device=mask.device).unsqueeze(0)
    return bool(torch.equal(mask.bool(), positions < lengths))


def bucketed_scores(
    score: Callable[[dict[str, Tensor]], Tensor],
    features: dict[str, Tensor],
    overhead: int = BUCKET_OVERHEAD_TOKENS,
) -> Tensor:
    """``score(features)`` computed bucket by bucket (module docstring), in batch order.

    Tensors shaped like ``attention_mask`` are cut to each bucket's longest pair; other
    per-pair tensors are only indexed by row.
    """
    mask = features.get("attention_mask")
    if mask is None or mask.dim() != 2 or not is_right_padded(mask):
        return score(features)
    lengths = mask.sum(dim=1)
    order = torch.argsort(lengths, stable=True)
    sorted_lengths = lengths[order].tolist()
    ends = plan_buckets(sorted_lengths, overhead)
    if len(ends) == 1:
        return score(features)
    rows, width = mask.shape
    parts: list[Tensor] = []
    start = 0
    for end in ends:
        index = order[start:end]
        longest = max(int(sorted_lengths[end - 1]), 1)
        bucket = {
            name: value[index, :longest]
            if value.dim() >= 2 and value.shape[:2] == (rows, width)
            else value[index]
            for name, value in features.items()
        }
        parts.append(score(bucket))
        start = end
    # Scatter back to batch order; autograd flows through the concatenation.
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(rows, device=order.device)
    return torch.cat(parts)[inverse]


def bucketed_training_loss(
    student: StudentModel,
    features: dict[str, Tensor],
    labels: Tensor,
    mask: Tensor,
    rank_loss: Callable[[Tensor, Tensor, Tensor], Tensor],
) -> tuple[Tensor, dict[str, float]]:
    """``student.training_loss``, with the scores computed in length buckets.

    Only for a student whose training loss is the rank loss on its own ``forward`` scores
    (it keeps :meth:`StudentModel.training_loss`); a student with its own training loss
    (extra heads, generation losses) reads its full padded batch as before.
    """
    if type(student).training_loss is not StudentModel.training_loss:
        return student.training_loss(features, labels, mask, rank_loss)
    scores = bucketed_scores(student, features).view_as(labels)
    loss = rank_loss(scores, labels, mask)
    return loss, {"rank": float(loss.detach())}
