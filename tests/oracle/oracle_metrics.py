"""The paper's scores, from their definitions (tests/oracle/README.md; paper eq. 1; the
original's kl_div), in float64 numpy: log-softmax, NDCG, the effect and its parts, precision and
ideal precision. Part of the oracle.
"""

import numpy as np

# --------------------------------------------------------------------------------------------
# Metrics, from the definitions (README of tests/oracle; paper eq. 1; the original's kl_div).


def log_softmax64(logits):
    x = np.asarray(logits, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def ndcg(logits, relevant):
    """Ranking by logits descending; relevance 1 for the relevant labels; DCG = sum rel_i /
    log2(i + 1) over all classes (i from 1), divided by the ideal DCG."""
    logits = np.asarray(logits, dtype=np.float64)
    order = np.argsort(-logits, kind="stable")
    rel = np.isin(order, np.asarray(relevant)).astype(np.float64)
    disc = 1.0 / np.log2(np.arange(2, len(order) + 2, dtype=np.float64))
    ideal = disc[: len(set(relevant))].sum()
    return float((rel * disc).sum() / ideal)


def intervention_scores(before_logits, after_logits, a, b):
    """effect (eq. 1), its two parts, and precision = -KL(after || before), the original's
    kl_div(log p_before, log p_after, log_target=True) summed and negated."""
    lp = log_softmax64(before_logits)
    lq = log_softmax64(after_logits)
    effect = (lp[a] - lp[b]) - (lq[a] - lq[b])
    eff_orig = lp[a] - lq[a]
    eff_des = lq[b] - lp[b]
    precision = -float((np.exp(lq) * (lq - lp)).sum())
    return float(effect), float(eff_orig), float(eff_des), precision


def ideal_precision(before_logits, a, b):
    """The precision of an intervention that only swaps p_a and p_b (paper Fig. 4B)."""
    lp = log_softmax64(before_logits)
    lq = lp.copy()
    lq[a], lq[b] = lp[b], lp[a]
    return -float((np.exp(lq) * (lq - lp)).sum())
