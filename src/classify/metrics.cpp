// Effect scores and KL precision (see metrics.h for the definitions).
#include "classify/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mg::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

EffectScore failed(Status s) { return {kNaN, kNaN, kNaN, kNaN, s}; }

// The baseline's share of every score, computed once for all the rows scored against it.
struct Baseline {
  const float* logits;
  double lse;  // logsumexp of the logits
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

  // The original code's precision: kl_div(log p_before, log p_after, log_target=True), i.e.
  // KL(after || before) = sum_i q_i (log q_i - log p_i), q = softmax(after), p = softmax(before)
  //                     = sum_i q_i (y_i - x_i) - lse_after + lse_before       (sum_i q_i = 1)
  // with x, y the logits. A class whose q_i underflows to 0 contributes 0, its true
  // contribution to the last bit of a double, and no log of a probability is ever taken.
  double q_dot = 0;
  for (size_t i = 0; i < n; ++i) {
    const double q = std::exp(double(after[i]) - lse_after);
    q_dot += q * (double(after[i]) - double(before[i]));
  }
  const double kl = q_dot - lse_after + base.lse;
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
  const Baseline base{before, lse_before};
  for (size_t r = 0; r < rows; ++r)
    out[r] = score_row(base, after + r * num_classes, num_classes, a, b);
}

double ideal_precision(const float* before, size_t num_classes, size_t a, size_t b) {
  if (num_classes == 0 || a >= num_classes || b >= num_classes) return kNaN;
  const double lse = log_sum_exp(before, num_classes);
  if (std::isnan(lse)) return kNaN;
  // q = p with p_a and p_b swapped: every other term of sum_i q_i log(q_i / p_i) is 0, and
  // the two left give (p_b - p_a) log(p_b / p_a) + (p_a - p_b) log(p_a / p_b)
  //                 = (p_a - p_b)(log p_a - log p_b) >= 0.
  const double la = before[a] - lse, lb = before[b] - lse;
  return -((std::exp(la) - std::exp(lb)) * (la - lb));
}

}  // namespace mg::metrics
