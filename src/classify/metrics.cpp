// Effect scores and KL precision (see metrics.h for the definitions).
#include "classify/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace mg::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

EffectScore failed(Status s) { return {kNaN, kNaN, kNaN, kNaN, s}; }

// The baseline's share of every score, computed once for all the rows scored against it.
struct Baseline {
  const float* logits;
  double lse;          // logsumexp of the logits
  const double* p;     // softmax probabilities (0 where they underflow)
  double sum_p_logit;  // sum_i p_i * logit_i
};

// Scores `after` against a baseline whose logsumexp is finite.
EffectScore score_row(const Baseline& base, const float* after, size_t n, size_t a, size_t b) {
  const double lse_after = log_sum_exp(after, n);
  if (std::isnan(lse_after)) return failed(Status::kNonFiniteAfter);
  const float* before = base.logits;

  // Log-probabilities of the two concepts; log p = logit - logsumexp, exact for any p.
  const double lb_a = before[a] - base.lse, lb_b = before[b] - base.lse;
  const double la_a = after[a] - lse_after, la_b = after[b] - lse_after;

  EffectScore s;
  s.original = lb_a - la_a;
  s.desired = la_b - lb_b;
  // The effect does not depend on the normalisation: computing it from the logits alone
  // avoids two roundings through the logsumexps. original + desired equals it to ~1e-15.
  s.effect = (double(before[a]) - double(before[b])) - (double(after[a]) - double(after[b]));

  // KL(before || after) = sum_i p_i (log p_i - log q_i)
  //                     = sum_i p_i (x_i - y_i) - lse_before + lse_after      (sum_i p_i = 1)
  // with x, y the logits: one dot product per row, as the p_i and sum_i p_i x_i belong to the
  // baseline. A class whose p_i underflows to 0 contributes 0, its true contribution to the
  // last bit of a double, and no log of a probability is ever taken.
  double p_after = 0;
  for (size_t i = 0; i < n; ++i) p_after += base.p[i] * double(after[i]);
  const double kl = (base.sum_p_logit - p_after) + (lse_after - base.lse);
  // KL >= 0; rounding can leave -1e-16 for (nearly) identical rows, which would read as a
  // "better than perfect" precision.
  s.precision = -std::max(kl, 0.0);
  return s;
}

}  // namespace

const char* status_name(Status s) {
  switch (s) {
    case Status::kOk:
      return "ok";
    case Status::kNonFiniteBefore:
      return "non_finite_before";
    case Status::kNonFiniteAfter:
      return "non_finite_after";
    case Status::kNonFinite:
      return "non_finite";
    case Status::kBadClassIndex:
      return "bad_class_index";
    case Status::kNoRelevantLabels:
      return "no_relevant_labels";
    case Status::kEmpty:
      return "empty";
  }
  return "unknown";
}

double log_sum_exp(const float* logits, size_t n) {
  if (n == 0) return kNaN;
  double max = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < n; ++i) {
    // -inf is rejected too: a row with an infinite logit is a broken classifier output,
    // and the caller must hear about it rather than get a silently renormalised row.
    if (!std::isfinite(logits[i])) return kNaN;
    max = std::max(max, double(logits[i]));
  }
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - max);
  return max + std::log(sum);  // sum >= 1: the max term contributes exp(0)
}

Status log_softmax(const float* logits, size_t n, double* out) {
  if (n == 0) return Status::kEmpty;
  const double lse = log_sum_exp(logits, n);
  if (std::isnan(lse)) {
    std::fill(out, out + n, kNaN);
    return Status::kNonFinite;
  }
  for (size_t i = 0; i < n; ++i) out[i] = logits[i] - lse;
  return Status::kOk;
}

EffectScore effect_score(const float* before, const float* after, size_t num_classes, size_t a,
                         size_t b) {
  EffectScore s;
  effect_scores(before, after, 1, num_classes, a, b, &s);
  return s;
}

void effect_scores(const float* before, const float* after, size_t rows, size_t num_classes,
                   size_t a, size_t b, EffectScore* out) {
  Status common = Status::kOk;
  double lse_before = kNaN;
  if (num_classes == 0) {
    common = Status::kEmpty;
  } else if (a >= num_classes || b >= num_classes) {
    common = Status::kBadClassIndex;
  } else {
    lse_before = log_sum_exp(before, num_classes);
    if (std::isnan(lse_before)) common = Status::kNonFiniteBefore;
  }
  if (common != Status::kOk) {
    for (size_t r = 0; r < rows; ++r) out[r] = failed(common);
    return;
  }
  // The baseline's probabilities: on the stack for classifiers up to AudioSet's size and
  // beyond, so that scoring allocates nothing.
  constexpr size_t kStack = 1024;
  double stack[kStack];
  std::vector<double> heap(num_classes > kStack ? num_classes : 0);
  double* p = num_classes > kStack ? heap.data() : stack;
  double sum_p_logit = 0;
  for (size_t i = 0; i < num_classes; ++i) {
    p[i] = std::exp(double(before[i]) - lse_before);
    sum_p_logit += p[i] * double(before[i]);
  }
  const Baseline base{before, lse_before, p, sum_p_logit};
  for (size_t r = 0; r < rows; ++r)
    out[r] = score_row(base, after + r * num_classes, num_classes, a, b);
}

}  // namespace mg::metrics
