// The paper's scores against values worked out by hand (the working is in the comments).
#include "classify/metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace mg::metrics {
namespace {

const float kLn2 = float(std::log(2.0));
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

// ---------------------------------------------------------------------------------------
// log-softmax

TEST(LogSoftmax, HandComputed) {
  // logits (0, ln2, 0): exp -> (1, 2, 1), sum 4, p = (1/4, 1/2, 1/4).
  const float z[] = {0, kLn2, 0};
  double out[3];
  ASSERT_EQ(log_softmax(z, 3, out), Status::kOk);
  EXPECT_NEAR(out[0], std::log(0.25), 1e-7);
  EXPECT_NEAR(out[1], std::log(0.5), 1e-7);
  EXPECT_NEAR(out[2], std::log(0.25), 1e-7);
  EXPECT_NEAR(log_sum_exp(z, 3), std::log(4.0), 1e-7);
}

TEST(LogSoftmax, NoOverflowOrUnderflow) {
  // (1000, 0): exp(1000) overflows a double, exp(-1000) underflows. logsumexp =
  // 1000 + log(1 + e^-1000) = 1000 exactly in double, so log p = (0, -1000), where a
  // log(softmax) would give (0, -inf).
  const float z[] = {1000, 0};
  double out[2];
  ASSERT_EQ(log_softmax(z, 2, out), Status::kOk);
  EXPECT_EQ(out[0], 0.0);
  EXPECT_EQ(out[1], -1000.0);
}

TEST(LogSoftmax, NonFiniteIsReported) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float bad : {nan, kInf, -kInf}) {
    const float z[] = {0, bad, 1};
    double out[3] = {1, 1, 1};
    EXPECT_EQ(log_softmax(z, 3, out), Status::kNonFinite) << bad;
    EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]) && std::isnan(out[2]));
    EXPECT_TRUE(std::isnan(log_sum_exp(z, 3)));
  }
  EXPECT_EQ(log_softmax(nullptr, 0, nullptr), Status::kEmpty);
}

// ---------------------------------------------------------------------------------------
// effect, its parts, precision

TEST(Effect, HandComputed) {
  // before (0, ln2, 0) -> p = (1/4, 1/2, 1/4); after (ln2, 0, ln2) -> q = (2/5, 1/5, 2/5).
  // a = 0, b = 1:
  //   effect   = log(p0/p1) - log(q0/q1) = log(1/2) - log(2)      = -2 ln 2
  //   original = log(p0/q0) = log((1/4)/(2/5))                    = log(5/8)
  //   desired  = log(q1/p1) = log((1/5)/(1/2))                    = log(2/5)
  //              (log(5/8) + log(2/5) = log(1/4) = -2 ln 2)
  //   precision = -KL(q||p) (the original code's direction: after relative to before)
  //   KL(q||p) = 2/5 log((2/5)/(1/4)) + 1/5 log((1/5)/(1/2)) + 2/5 log((2/5)/(1/4))
  //            = 4/5 log(8/5) + 1/5 log(2/5)
  //   (KL(p||q), the other direction, would be log(5/4): a different number.)
  // Tolerance 1e-7: ln 2 is rounded to float in the logits.
  const float before[] = {0, kLn2, 0};
  const float after[] = {kLn2, 0, kLn2};
  const auto s = effect_score(before, after, 3, 0, 1);
  ASSERT_EQ(s.status, Status::kOk);
  EXPECT_NEAR(s.effect, -2 * std::log(2.0), 1e-7);
  EXPECT_NEAR(s.original, std::log(5.0 / 8.0), 1e-7);
  EXPECT_NEAR(s.desired, std::log(2.0 / 5.0), 1e-7);
  EXPECT_NEAR(s.precision, -(0.8 * std::log(8.0 / 5.0) + 0.2 * std::log(2.0 / 5.0)), 1e-7);
}

TEST(Effect, SwappedLargeLogits) {
  // before (1000, 999), after (999, 1000): exp() of either overflows a double.
  // p = (s(1), s(-1)) with s the logistic function, q = (s(-1), s(1)); log(s(1)/s(-1)) = 1.
  //   effect = (1000 - 999) - (999 - 1000) = 2;  original = log(s(1)/s(-1)) = 1;
  //   desired = log(s(1)/s(-1)) = 1;
  //   KL = s(1)*1 + s(-1)*(-1) = s(1) - s(-1) = tanh(1/2);  precision = -tanh(1/2).
  const float before[] = {1000, 999};
  const float after[] = {999, 1000};
  const auto s = effect_score(before, after, 2, 0, 1);
  ASSERT_EQ(s.status, Status::kOk);
  EXPECT_DOUBLE_EQ(s.effect, 2.0);
  EXPECT_NEAR(s.original, 1.0, 1e-12);
  EXPECT_NEAR(s.desired, 1.0, 1e-12);
  EXPECT_NEAR(s.precision, -std::tanh(0.5), 1e-12);
}

TEST(Effect, UnderflowingProbabilityKeepsItsLogarithm) {
  // before (0, -1000), after (0, -990); p_b = e^-1000 and e^-990 are 0 in double.
  // logsumexp = log(1 + e^-1000) = 0 (and log(1 + e^-990) = 0) in double, so
  //   original = 0 - 0 = 0;  desired = -990 - (-1000) = 10;  effect = 1000 - 990 = 10.
  //   KL = 1 * (0 - 0) + 0 = 0 to double precision.
  // A log of the softmax would give log(0) = -inf and a NaN or infinite desired part.
  const float before[] = {0, -1000};
  const float after[] = {0, -990};
  const auto s = effect_score(before, after, 2, 0, 1);
  ASSERT_EQ(s.status, Status::kOk);
  EXPECT_EQ(s.effect, 10.0);
  EXPECT_EQ(s.original, 0.0);
  EXPECT_EQ(s.desired, 10.0);
  EXPECT_EQ(s.precision, 0.0);
}

TEST(Effect, KlRunsFromAfterToBefore) {
  // before (0, 0) -> p = (1/2, 1/2); after (0, -1000) -> log q = (0, -1000) (q_1 underflows).
  //   KL(q||p) = 1 (0 - log 1/2) + 0 (...)                  = ln 2       (the original's)
  //   KL(p||q) = 1/2 (log 1/2 - 0) + 1/2 (log 1/2 + 1000)   = 500 - ln 2 (not this one)
  const float before[] = {0, 0};
  const float after[] = {0, -1000};
  const auto s = effect_score(before, after, 2, 1, 0);
  ASSERT_EQ(s.status, Status::kOk);
  EXPECT_NEAR(s.precision, -std::log(2.0), 1e-12);
  // a = 1, b = 0: effect = (0 - 0) - (-1000 - 0) = 1000.
  EXPECT_EQ(s.effect, 1000.0);
}

TEST(Effect, LargeButFiniteKl) {
  // before (0, -1000) -> log p = (0, -1000) (p_1 underflows); after (0, 0) -> q = (1/2, 1/2).
  //   KL(q||p) = 1/2 (log 1/2 - 0) + 1/2 (log 1/2 + 1000) = 500 - ln 2: finite although p_1
  //   is 0 in double (its log is kept exact).
  const float before[] = {0, -1000};
  const float after[] = {0, 0};
  const auto s = effect_score(before, after, 2, 0, 1);
  ASSERT_EQ(s.status, Status::kOk);
  EXPECT_NEAR(s.precision, std::log(2.0) - 500.0, 1e-12);
}

TEST(IdealPrecision, HandComputed) {
  // p = (1/4, 1/2, 1/4) (logits 0, ln2, 0); a = 0, b = 1: p' = (1/2, 1/4, 1/4).
  //   KL(p'||p) = 1/2 log 2 + 1/4 log(1/2) + 0 = 1/4 ln 2;  ideal = -(ln 2)/4.
  const float before[] = {0, kLn2, 0};
  EXPECT_NEAR(ideal_precision(before, 3, 0, 1), -std::log(2.0) / 4, 1e-7);
  EXPECT_NEAR(ideal_precision(before, 3, 1, 0), -std::log(2.0) / 4, 1e-7);  // symmetric
  EXPECT_EQ(ideal_precision(before, 3, 2, 2), 0.0);
  EXPECT_EQ(ideal_precision(before, 3, 0, 2), 0.0);  // equal probabilities: nothing flips
}

TEST(IdealPrecision, EqualsThePrecisionOfTheSwappedRow) {
  // The definition itself: score a row whose two logits are swapped against the baseline.
  const float before[] = {0.3f, -1.2f, 2.5f, 0.0f, -4.0f};
  float swapped[5];
  std::copy(before, before + 5, swapped);
  std::swap(swapped[1], swapped[2]);
  const auto s = effect_score(before, swapped, 5, 1, 2);
  EXPECT_NEAR(ideal_precision(before, 5, 1, 2), s.precision, 1e-12);
  EXPECT_LT(s.precision, 0.0);
}

TEST(IdealPrecision, BadInput) {
  const float before[] = {0, 1};
  const float nan_row[] = {0, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_TRUE(std::isnan(ideal_precision(before, 2, 0, 2)));
  EXPECT_TRUE(std::isnan(ideal_precision(nan_row, 2, 0, 1)));
  EXPECT_TRUE(std::isnan(ideal_precision(before, 0, 0, 0)));
}

TEST(Effect, IdenticalRowsScoreZero) {
  const float z[] = {0.3f, -1.2f, 2.5f, 0.0f};
  const auto s = effect_score(z, z, 4, 2, 0);
  ASSERT_EQ(s.status, Status::kOk);
  EXPECT_EQ(s.effect, 0.0);
  EXPECT_EQ(s.original, 0.0);
  EXPECT_EQ(s.desired, 0.0);
  EXPECT_EQ(s.precision, 0.0);
}

TEST(Effect, SameConceptHasNoEffect) {
  const float before[] = {0.3f, -1.2f, 2.5f};
  const float after[] = {1.3f, 0.2f, -2.5f};
  const auto s = effect_score(before, after, 3, 1, 1);
  ASSERT_EQ(s.status, Status::kOk);
  EXPECT_EQ(s.effect, 0.0);
  EXPECT_NEAR(s.original + s.desired, 0.0, 1e-12);
}

TEST(Effect, PartsSumToEffectAndShiftInvariance) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d(0.f, 3.f);
  const size_t n = 527;
  std::vector<float> before(n), after(n), shifted(n);
  for (int trial = 0; trial < 50; ++trial) {
    // Multiples of 2^-10 below 2^13 in magnitude, so that adding 8 below is exact in float.
    auto draw = [&] { return std::round(d(rng) * 1024.0f) / 1024.0f; };
    for (size_t i = 0; i < n; ++i) before[i] = draw(), after[i] = draw();
    // Adding 8 to every logit leaves the softmax unchanged.
    for (size_t i = 0; i < n; ++i) shifted[i] = after[i] + 8.0f;
    const size_t a = trial % n, b = (trial * 37 + 5) % n;
    const auto s = effect_score(before.data(), after.data(), n, a, b);
    const auto t = effect_score(before.data(), shifted.data(), n, a, b);
    ASSERT_EQ(s.status, Status::kOk);
    EXPECT_NEAR(s.original + s.desired, s.effect, 1e-12);
    EXPECT_LE(s.precision, 0.0);
    EXPECT_NEAR(t.effect, s.effect, 1e-12);
    EXPECT_NEAR(t.original, s.original, 1e-12);
    EXPECT_NEAR(t.desired, s.desired, 1e-12);
    EXPECT_NEAR(t.precision, s.precision, 1e-12);
  }
}

TEST(Effect, PrecisionMatchesTheTextbookSumOverProbabilities) {
  // Moderate logits, so that the naive formula over probabilities is accurate in double:
  // -sum_i q_i log(q_i / p_i), q = softmax(after), p = softmax(before).
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.f, 2.f);
  const size_t n = 527;
  std::vector<float> before(n), after(n);
  for (int trial = 0; trial < 20; ++trial) {
    for (size_t i = 0; i < n; ++i) before[i] = d(rng), after[i] = d(rng);
    auto softmax = [&](const std::vector<float>& x) {
      std::vector<double> e(n);
      double z = 0;
      for (size_t i = 0; i < n; ++i) z += e[i] = std::exp(double(x[i]));
      for (double& v : e) v /= z;
      return e;
    };
    const auto p = softmax(before), q = softmax(after);
    double kl = 0;
    for (size_t i = 0; i < n; ++i) kl += q[i] * std::log(q[i] / p[i]);
    const auto s = effect_score(before.data(), after.data(), n, 3, 4);
    EXPECT_NEAR(s.precision, -kl, 1e-10 * std::max(1.0, kl));
  }
}

TEST(Effect, NonFiniteLogitsAreReportedNotThrown) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float good[] = {0, 1, 2};
  const float bad_nan[] = {0, nan, 2};
  const float bad_inf[] = {kInf, 1, 2};
  auto all_nan = [](const EffectScore& s) {
    return std::isnan(s.effect) && std::isnan(s.original) && std::isnan(s.desired) &&
           std::isnan(s.precision);
  };
  auto s = effect_score(bad_nan, good, 3, 0, 2);
  EXPECT_EQ(s.status, Status::kNonFiniteBefore);
  EXPECT_TRUE(all_nan(s));
  s = effect_score(good, bad_inf, 3, 0, 2);
  EXPECT_EQ(s.status, Status::kNonFiniteAfter);
  EXPECT_TRUE(all_nan(s));
  s = effect_score(bad_inf, bad_nan, 3, 0, 2);
  EXPECT_EQ(s.status, Status::kNonFiniteBefore);
  EXPECT_STREQ(status_name(s.status), "non_finite_before");
}

TEST(Effect, BadIndicesAndEmpty) {
  const float z[] = {0, 1, 2};
  auto s = effect_score(z, z, 3, 3, 0);
  EXPECT_EQ(s.status, Status::kBadClassIndex);
  EXPECT_TRUE(std::isnan(s.effect));
  EXPECT_EQ(effect_score(z, z, 3, 0, 7).status, Status::kBadClassIndex);
  EXPECT_EQ(effect_score(z, z, 0, 0, 0).status, Status::kEmpty);
}

TEST(Effect, RowsSharingABaselineMatchSingleCalls) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.f, 2.f);
  const size_t n = 40, rows = 6;
  std::vector<float> before(n), after(rows * n);
  for (auto& v : before) v = d(rng);
  for (auto& v : after) v = d(rng);
  after[3 * n + 5] = std::numeric_limits<float>::quiet_NaN();  // one broken row
  std::vector<EffectScore> out(rows);
  effect_scores(before.data(), after.data(), rows, n, 4, 9, out.data());
  for (size_t r = 0; r < rows; ++r) {
    const auto s = effect_score(before.data(), after.data() + r * n, n, 4, 9);
    EXPECT_EQ(out[r].status, s.status);
    if (r == 3) {
      EXPECT_EQ(out[r].status, Status::kNonFiniteAfter);
      continue;
    }
    EXPECT_EQ(out[r].effect, s.effect);
    EXPECT_EQ(out[r].original, s.original);
    EXPECT_EQ(out[r].desired, s.desired);
    EXPECT_EQ(out[r].precision, s.precision);
  }
}

// ---------------------------------------------------------------------------------------
// NDCG

// 1 / log2(3) = ln 2 / ln 3: the discount of rank 2.
const double kD2 = std::log(2.0) / std::log(3.0);

TEST(Ndcg, HandComputed) {
  // logits (0.1, 0.5, 0.3, 0.9): ranking by logit is class 3, 1, 2, 0 (ranks 1..4).
  const float z[] = {0.1f, 0.5f, 0.3f, 0.9f};
  // {2}: rank 3 -> DCG = 1/log2(4) = 1/2; IDCG = 1/log2(2) = 1; NDCG = 1/2.
  const int32_t r2[] = {2};
  EXPECT_DOUBLE_EQ(ndcg(z, 4, r2, 1).value, 0.5);
  // {1, 2}: ranks 2, 3 -> DCG = 1/log2(3) + 1/2; IDCG = 1 + 1/log2(3).
  const int32_t r12[] = {1, 2};
  EXPECT_NEAR(ndcg(z, 4, r12, 2).value, (kD2 + 0.5) / (1 + kD2), 1e-15);  // 0.693426...
  // Cutoff 2: DCG@2 = 1/log2(3) (rank 3 is cut); IDCG@2 = 1 + 1/log2(3).
  EXPECT_NEAR(ndcg(z, 4, r12, 2, 2).value, kD2 / (1 + kD2), 1e-15);  // 0.386853...
  // Cutoff 1: rank 1 is class 3, not relevant -> 0.
  EXPECT_EQ(ndcg(z, 4, r12, 2, 1).value, 0.0);
  // {3}: rank 1 -> 1. {0}: rank 4 -> 1/log2(5).
  const int32_t r3[] = {3}, r0[] = {0};
  EXPECT_EQ(ndcg(z, 4, r3, 1).value, 1.0);
  EXPECT_NEAR(ndcg(z, 4, r0, 1).value, 1.0 / std::log2(5.0), 1e-15);
  // A cutoff beyond the class count means all classes.
  EXPECT_EQ(ndcg(z, 4, r12, 2, 99).value, ndcg(z, 4, r12, 2, 0).value);
}

TEST(Ndcg, PerfectRankingIsExactlyOne) {
  const float z[] = {5, -1, 4, 3, 0};
  const int32_t rel[] = {3, 0, 2};  // the three largest, in any order
  EXPECT_EQ(ndcg(z, 5, rel, 3).value, 1.0);
  EXPECT_EQ(ndcg(z, 5, rel, 3, 2).value, 1.0);
}

TEST(Ndcg, TiesAreBrokenByClassIndex) {
  // All logits equal: the ranking is 0, 1, 2.
  const float z[] = {1, 1, 1};
  const int32_t r0[] = {0}, r1[] = {1}, r2[] = {2};
  EXPECT_EQ(ndcg(z, 3, r0, 1).value, 1.0);
  EXPECT_NEAR(ndcg(z, 3, r1, 1).value, kD2, 1e-15);
  EXPECT_DOUBLE_EQ(ndcg(z, 3, r2, 1).value, 0.5);
  EXPECT_EQ(rank_of(z, 3, 0), 1u);
  EXPECT_EQ(rank_of(z, 3, 2), 3u);
}

TEST(Ndcg, DuplicatesCountOnce) {
  const float z[] = {0.1f, 0.5f, 0.3f, 0.9f};
  const int32_t once[] = {2, 1}, twice[] = {2, 1, 2, 1, 1};
  EXPECT_EQ(ndcg(z, 4, once, 2).value, ndcg(z, 4, twice, 5).value);
}

TEST(Ndcg, BadInputIsReportedNotThrown) {
  const float z[] = {0.1f, 0.5f, 0.3f};
  const int32_t out_of_range[] = {3}, negative[] = {-1};
  auto s = ndcg(z, 3, out_of_range, 1);
  EXPECT_EQ(s.status, Status::kBadClassIndex);
  EXPECT_TRUE(std::isnan(s.value));
  EXPECT_EQ(ndcg(z, 3, negative, 1).status, Status::kBadClassIndex);
  s = ndcg(z, 3, nullptr, 0);
  EXPECT_EQ(s.status, Status::kNoRelevantLabels);
  EXPECT_TRUE(std::isnan(s.value));
  const int32_t r0[] = {0};
  EXPECT_EQ(ndcg(z, 0, r0, 1).status, Status::kEmpty);
  const float with_nan[] = {0.1f, std::numeric_limits<float>::quiet_NaN(), 0.3f};
  s = ndcg(with_nan, 3, r0, 1);
  EXPECT_EQ(s.status, Status::kNonFinite);
  EXPECT_TRUE(std::isnan(s.value));
  const float with_inf[] = {0.1f, -kInf, 0.3f};
  EXPECT_EQ(ndcg(with_inf, 3, r0, 1).status, Status::kNonFinite);
}

// Reference implementation: sort all classes (stable, so ties keep index order), then sum.
double ndcg_by_sorting(const std::vector<float>& z, const std::vector<int32_t>& rel,
                       size_t cutoff) {
  std::vector<size_t> order(z.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return z[i] > z[j]; });
  const size_t k = cutoff == 0 ? z.size() : std::min(cutoff, z.size());
  double dcg = 0, ideal = 0;
  for (size_t i = 0; i < k; ++i)
    if (std::find(rel.begin(), rel.end(), int32_t(order[i])) != rel.end())
      dcg += 1.0 / std::log2(double(i) + 2.0);
  for (size_t i = 0; i < std::min(k, rel.size()); ++i) ideal += 1.0 / std::log2(double(i) + 2.0);
  return dcg / ideal;
}

TEST(Ndcg, MatchesFullSortOnRandomRowsWithTies) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> level(0, 20);  // few distinct values: many ties
  const size_t n = 527, rows = 8;
  std::vector<float> z(rows * n);
  for (auto& v : z) v = float(level(rng)) * 0.25f;
  const std::vector<int32_t> rel = {140, 141, 142, 0, 526};
  for (size_t cutoff : {size_t(0), size_t(1), size_t(5), size_t(20), size_t(600)}) {
    std::vector<NdcgScore> out(rows);
    ndcg_rows(z.data(), rows, n, rel.data(), rel.size(), cutoff, out.data());
    for (size_t r = 0; r < rows; ++r) {
      std::vector<float> row(z.begin() + r * n, z.begin() + (r + 1) * n);
      ASSERT_EQ(out[r].status, Status::kOk);
      EXPECT_NEAR(out[r].value, ndcg_by_sorting(row, rel, cutoff), 1e-14)
          << "row " << r << " cutoff " << cutoff;
    }
  }
}

TEST(Ndcg, RowsReportTheirOwnStatus) {
  const float z[] = {0.1f, 0.5f, std::numeric_limits<float>::quiet_NaN(), 0.9f, 0.2f, 0.1f};
  const int32_t rel[] = {1};
  NdcgScore out[2];
  ndcg_rows(z, 2, 3, rel, 1, 0, out);
  EXPECT_EQ(out[0].status, Status::kNonFinite);
  EXPECT_EQ(out[1].status, Status::kOk);
  EXPECT_NEAR(out[1].value, kD2, 1e-15);  // row (0.9, 0.2, 0.1): class 1 at rank 2
}

}  // namespace
}  // namespace mg::metrics
