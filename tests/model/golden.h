// Access to the golden fixture tests/golden/tiny (see its README): the
// checkpoint and the tensors the upstream code computed for it.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "musicgen/config.h"
#include "musicgen/weights.h"

namespace mgtest {

inline std::string golden_dir() { return std::string(MGSWEEP_TEST_DATA) + "/golden/tiny"; }

inline const mg::Weights& expected() {
  static const mg::Weights w = mg::Weights::open_file(golden_dir() + "/expected.safetensors");
  return w;
}

inline at::Tensor expect_tensor(const std::string& name) {
  return expected().get_unchecked(name, at::TensorOptions());
}

// Max |a - b| over all elements, in float64.
inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble).cpu() - b.to(at::kDouble).cpu()).abs().max().item<double>();
}

// fp32 on CPU must land within this of the float64 reference (README: drift is
// at most a few 1e-6; the bar is 1e-4 absolute).
constexpr double kTol = 1e-4;

#define EXPECT_CLOSE(actual, expected_name)                                 \
  do {                                                                      \
    at::Tensor _e = mgtest::expect_tensor(expected_name);                   \
    at::Tensor _a = (actual);                                               \
    ASSERT_EQ(_a.sizes(), _e.sizes()) << expected_name;                     \
    EXPECT_LT(mgtest::max_abs_diff(_a, _e), mgtest::kTol) << expected_name; \
  } while (0)

#define EXPECT_SAME_CODES(actual, expected_name)                     \
  do {                                                               \
    at::Tensor _e = mgtest::expect_tensor(expected_name);            \
    at::Tensor _a = (actual).to(at::kCPU, at::kLong);                \
    ASSERT_EQ(_a.sizes(), _e.sizes()) << expected_name;              \
    EXPECT_TRUE(at::equal(_a, _e)) << expected_name << "\nactual:\n" \
                                   << _a << "\nexpected:\n"          \
                                   << _e;                            \
  } while (0)

}  // namespace mgtest
