// The paper's scores of classifier outputs, in float64, from logits.
//
// With p = softmax(logits), original concept a and desired concept b (class indices):
//   effect    = log(p_a/p_b)_before - log(p_a/p_b)_after                  (eq. 1 of the paper)
//   original  = log(p_a,before / p_a,after)       desired = log(p_b,after / p_b,before)
//               (original + desired == effect)
//   precision = -KL(after || before) = -sum_i q_i log(q_i / p_i), q = p_after, p = p_before,
//               over all classes: the original code's kl_div(log p_before, log p_after,
//               log_target=True), negated as the paper reports it
//   ideal precision = the precision of an "after" that is the "before" with only p_a and p_b
//               swapped (paper Fig. 4B) = -(p_a - p_b)(log p_a - log p_b)
//   ndcg      = NDCG of the classifier's ranking of all classes, relevance 1 for a concept's
//               relevant labels (the paper's Table 1)
//
// Everything is computed from log-softmax values (logit - logsumexp), never from the log of
// a probability, so a class whose probability underflows to 0 in float64 still has its exact
// log-probability. Inputs are float logits as the classifier returns them; every sum is in
// double.
//
// Built for a sweep that scores millions of items: plain C++ (no LibTorch), no allocation
// per call, pointers + class count in, small structs out. Bad values never throw: a row with
// a NaN or infinite logit, or a class index out of range, gives NaN scores and a status that
// says why, so one broken generation cannot stop a sweep.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mg::metrics {

enum class Status : uint8_t {
  kOk = 0,
  kNonFiniteBefore = 1,   // a NaN or +-inf logit in the "before" (baseline) row
  kNonFiniteAfter = 2,    // a NaN or +-inf logit in the "after" row (before was finite)
  kNonFinite = 3,         // a NaN or +-inf logit in the scored row (NDCG)
  kBadClassIndex = 4,     // a concept or relevant-label index outside [0, num_classes)
  kNoRelevantLabels = 5,  // NDCG with an empty relevant set: the ideal DCG is 0
  kEmpty = 6,             // num_classes == 0
};

// A stable name for logs and the store ("ok", "non_finite_before", ...).
const char* status_name(Status s);

// logsumexp of n logits in float64: max + log(sum exp(x - max)). Returns NaN if any logit
// is NaN or infinite (an infinite logit has no finite log-probabilities), or if n == 0.
double log_sum_exp(const float* logits, size_t n);

// out[i] = logits[i] - logsumexp(logits), in float64. Returns kNonFinite (out filled with
// NaN) if a logit is not finite.
Status log_softmax(const float* logits, size_t n, double* out);

struct EffectScore {
  double effect = 0;     // original + desired
  double original = 0;   // log(p_a,before / p_a,after): > 0 when the original concept fell
  double desired = 0;    // log(p_b,after / p_b,before): > 0 when the desired concept rose
  double precision = 0;  // -KL(after || before) <= 0; 0 when the distributions agree
  Status status = Status::kOk;
};

// Scores one intervened row `after` against its baseline `before` (num_classes logits
// each). a == b is allowed (effect 0).
EffectScore effect_score(const float* before, const float* after, size_t num_classes, size_t a,
                         size_t b);

// The same for `rows` intervened rows that share one baseline (row-major [rows, num_classes]
// at `after`), computing the baseline's logsumexp once. out[r] is row r's score.
void effect_scores(const float* before, const float* after, size_t rows, size_t num_classes,
                   size_t a, size_t b, EffectScore* out);

// The ideal precision of a pair (a, b) on a baseline row: -KL(p' || p) with p' = p with
// entries a and b swapped. 0 when a == b; NaN for a non-finite row or a bad index.
double ideal_precision(const float* before, size_t num_classes, size_t a, size_t b);

struct NdcgScore {
  double value = 0;  // in [0, 1]; 1 when every relevant class outranks every other
  Status status = Status::kOk;
};

// NDCG@cutoff of the ranking by logits against relevance 1 for the classes in
// relevant[0..num_relevant) (duplicates count once) and 0 for all others:
//   DCG  = sum over ranks i = 1..K of rel_i / log2(i + 1)
//   IDCG = sum over i = 1..min(K, R) of 1 / log2(i + 1)      (all R relevant classes first)
//   NDCG = DCG / IDCG, with K = cutoff, or num_classes when cutoff is 0 or larger.
// Ranking: logits descending; equal logits are ranked by class index ascending, so the
// result is a pure function of the logits (this is the order of a stable descending sort).
// Ranking by logits equals ranking by softmax probabilities, without the ties that
// underflowing probabilities would create.
NdcgScore ndcg(const float* logits, size_t num_classes, const int32_t* relevant,
               size_t num_relevant, size_t cutoff = 0);

// ndcg() for `rows` rows (row-major [rows, num_classes]) against one relevant set.
void ndcg_rows(const float* logits, size_t rows, size_t num_classes, const int32_t* relevant,
               size_t num_relevant, size_t cutoff, NdcgScore* out);

// 1-based rank of class c under the ranking rule of ndcg(): 1 + the number of classes with
// a larger logit, or an equal logit and a smaller index. Logits must be finite.
size_t rank_of(const float* logits, size_t num_classes, size_t c);

}  // namespace mg::metrics
