// NDCG of a classifier's ranking (see metrics.h for the definition and the tie rule).
#include <algorithm>
#include <cmath>
#include <limits>

#include "classify/metrics.h"

namespace mg::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The discount of rank i (1-based).
double gain_at(size_t rank) { return 1.0 / std::log2(double(rank) + 1.0); }

bool all_finite(const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return false;
  return true;
}

}  // namespace

size_t rank_of(const float* logits, size_t num_classes, size_t c) {
  const float v = logits[c];
  size_t ahead = 0;
  for (size_t j = 0; j < num_classes; ++j) ahead += (logits[j] > v) | ((logits[j] == v) & (j < c));
  return ahead + 1;
}

NdcgScore ndcg(const float* logits, size_t num_classes, const int32_t* relevant,
               size_t num_relevant, size_t cutoff) {
  NdcgScore out;
  ndcg_rows(logits, 1, num_classes, relevant, num_relevant, cutoff, &out);
  return out;
}

void ndcg_rows(const float* logits, size_t rows, size_t num_classes, const int32_t* relevant,
               size_t num_relevant, size_t cutoff, NdcgScore* out) {
  auto fail_all = [&](Status s) {
    for (size_t r = 0; r < rows; ++r) out[r] = {kNaN, s};
  };
  if (num_classes == 0) return fail_all(Status::kEmpty);

  // Validate the relevant set once for all rows. Duplicates count once: an entry is used
  // only where it first appears (O(R^2) for the handful of labels a concept has, and no
  // allocation per call).
  auto first_occurrence = [&](size_t i) {
    for (size_t j = 0; j < i; ++j)
      if (relevant[j] == relevant[i]) return false;
    return true;
  };
  size_t unique = 0;
  for (size_t i = 0; i < num_relevant; ++i) {
    if (relevant[i] < 0 || size_t(relevant[i]) >= num_classes)
      return fail_all(Status::kBadClassIndex);
    unique += first_occurrence(i);
  }
  if (unique == 0) return fail_all(Status::kNoRelevantLabels);

  const size_t k = (cutoff == 0 || cutoff > num_classes) ? num_classes : cutoff;
  double ideal = 0;
  for (size_t i = 1; i <= std::min(k, unique); ++i) ideal += gain_at(i);

  for (size_t r = 0; r < rows; ++r) {
    const float* row = logits + r * num_classes;
    if (!all_finite(row, num_classes)) {
      out[r] = {kNaN, Status::kNonFinite};
      continue;
    }
    // Only relevant classes contribute to the DCG, so their ranks are all that is needed:
    // R counting passes over the row instead of sorting all classes (same ranking).
    double dcg = 0;
    for (size_t i = 0; i < num_relevant; ++i) {
      if (!first_occurrence(i)) continue;
      const size_t rank = rank_of(row, num_classes, size_t(relevant[i]));
      if (rank <= k) dcg += gain_at(rank);
    }
    out[r] = {dcg / ideal, Status::kOk};
  }
}

}  // namespace mg::metrics
