// The CPU float32 kernels (kernels/packed_sgemm, kernels/decode_attention) against
// float64 references computed with ATen, at shapes that hit every tile size, panel
// width and tail; and the properties the generation relies on: a row's result does
// not depend on the other rows or on the thread count. Every kernel test runs once per
// ISA (AVX2, AVX-512) that the CPU has, and the two ISAs must give the same bits.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu_isa.h"
#include "kernels/decode_attention.h"
#include "kernels/packed_sgemm.h"
#include "musicgen/cpu_attention.h"
#include "musicgen/huge_pages.h"
#include "musicgen/linear.h"

namespace mg::kernels {
// gtest's name for a parameter value in test listings.
void PrintTo(Isa isa, std::ostream* os) { *os << isa_name(isa); }
}  // namespace mg::kernels

namespace {

using mg::kernels::Isa;
using mg::kernels::PackedShape;

// A kernel test, run on one ISA (skipped where the CPU lacks it), the process's kernel
// ISA restored afterwards.
class Kernels : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!mg::kernels::isa_supported(GetParam()))
      GTEST_SKIP() << "this CPU has no " << mg::kernels::isa_name(GetParam());
    saved_ = mg::kernels::kernel_isa();
    mg::kernels::set_kernel_isa(GetParam());
    restore_ = true;
  }
  void TearDown() override {
    if (restore_) mg::kernels::set_kernel_isa(saved_);
  }

 private:
  Isa saved_ = Isa::None;
  bool restore_ = false;
};

std::string isa_test_name(const ::testing::TestParamInfo<Isa>& info) {
  return mg::kernels::isa_name(info.param);
}

TEST(PackedSgemm, LayoutOfPanels) {
  PackedShape s{100, 3};  // 48 + 48 + 4 (narrowed to 16)
  EXPECT_EQ(s.panels(), 3);
  EXPECT_EQ(s.panel_width(0), 48);
  EXPECT_EQ(s.panel_width(2), 16);
  EXPECT_EQ(s.floats(), (48 + 48 + 16) * 3);
  EXPECT_EQ((PackedShape{64, 5}.panel_width(1)), 16);
  EXPECT_EQ((PackedShape{80, 5}.panel_width(1)), 32);
  EXPECT_EQ((PackedShape{0, 5}.floats()), 0);
}

// Packing with the 8 x 8 register transposes and with the scalar loop agree at every
// remainder of rows and k; a fused weight packed from its parts (as stored, bf16 included)
// equals the packed concatenation.
TEST(PackedSgemm, PackingFromRowsAndPartsMatchesTheConcatenation) {
  for (int64_t n : {8, 13, 48, 100})
    for (int64_t k : {1, 8, 21, 64}) {
      at::Tensor w = at::randn({n, k});
      PackedShape s{n, k};
      std::vector<float> packed(static_cast<size_t>(s.floats()), -1.0f);
      mg::kernels::pack_weight(w.data_ptr<float>(), k, s, packed.data(), 0, s.panels());
      at::Tensor back = at::empty({n, k});
      mg::kernels::unpack_weight(packed.data(), s, back.data_ptr<float>());
      EXPECT_TRUE(at::equal(back, w)) << n << "x" << k;
    }
  if (!mg::kernels::packed_sgemm_available()) GTEST_SKIP() << "no CPU kernels here";
  const at::Tensor q = at::randn({40, 24}), kv = at::randn({57, 24});
  const at::Tensor half = at::randn({30, 24}).to(at::kBFloat16);
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  mg::Linear parts({q, kv, half}, f32, mg::CpuGemm::Packed);
  ASSERT_TRUE(parts.packed());
  EXPECT_TRUE(at::equal(parts.weight(), at::cat({q, kv, half.to(at::kFloat)}, 0)));
  mg::Linear aten({q, kv, half}, f32, mg::CpuGemm::Aten);
  EXPECT_TRUE(at::equal(aten.weight(), at::cat({q, kv, half.to(at::kFloat)}, 0)));
  EXPECT_NE(mg::Linear({q}, f32, mg::CpuGemm::Aten).weight().data_ptr(), q.data_ptr())
      << "the ATen path must own a copy, never the caller's (read-only) tensor";
}

TEST(PackedSgemm, PackThenUnpackIsTheIdentity) {
  for (int64_t n : {1, 16, 47, 48, 49, 100, 130}) {
    at::Tensor w = at::randn({n, 7});
    PackedShape s{n, 7};
    std::vector<float> packed(static_cast<size_t>(s.floats()), -1.0f);
    mg::kernels::pack_weight(w.data_ptr<float>(), 7, s, packed.data(), 0, s.panels());
    at::Tensor back = at::empty({n, 7});
    mg::kernels::unpack_weight(packed.data(), s, back.data_ptr<float>());
    EXPECT_TRUE(at::equal(back, w)) << n;
    // Columns past n are zero, so full-width tiles compute nothing spurious.
    const int64_t last = s.panels() - 1, width = s.panel_width(last);
    for (int64_t kk = 0; kk < 7; ++kk)
      for (int64_t j = n - last * 48; j < width; ++j)
        EXPECT_EQ(packed[static_cast<size_t>(s.panel_offset(last) + kk * width + j)], 0.0f);
  }
}

TEST_P(Kernels, PackedSgemmMatchesFloat64AtEveryTileAndTail) {
  at::manual_seed(1);
  for (int64_t m : {1, 2, 7, 8, 9, 16, 31, 32, 33})
    for (int64_t n : {16, 40, 48, 96, 100, 1040})
      for (int64_t k : {1, 3, 64, 1000}) {
        at::Tensor x = at::randn({m, k}), w = at::randn({n, k});
        mg::Linear lin(w, mg::CpuGemm::Packed);
        ASSERT_TRUE(lin.packed());
        const at::Tensor xd = x.to(at::kDouble), wd = w.to(at::kDouble);
        const at::Tensor want = at::mm(xd, wd.t());
        // The textbook bound of a float32 dot product summed in order: k units of
        // rounding (2^-24) times sum |x_i w_i|; a wrong index is off by O(1).
        const at::Tensor bound = at::mm(xd.abs(), wd.abs().t()) * (k * std::ldexp(1.0, -23));
        const at::Tensor err = (lin(x).to(at::kDouble) - want).abs();
        EXPECT_TRUE((err <= bound).all().item<bool>())
            << "m=" << m << " n=" << n << " k=" << k << ": error " << err.max().item<double>();
      }
}

// What makes the ISAs agree bit for bit and a row independent of its batch: every output
// element is exactly the float32 FMA chain acc = fma(x[kk], w[kk], acc) over kk = 0..k-1
// from acc = 0, on either ISA.
TEST_P(Kernels, PackedSgemmIsOneFmaChainInKOrder) {
  at::manual_seed(5);
  for (int64_t m : {1, 6, 7, 32})
    for (int64_t n : {16, 40, 100})
      for (int64_t k : {1, 33, 500}) {
        at::Tensor x = at::randn({m, k}), w = at::randn({n, k}), r = at::randn({m, n});
        mg::Linear lin(w, mg::CpuGemm::Packed);
        at::Tensor want = at::empty({m, n});
        const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>();
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            float acc = 0.0f;
            for (int64_t kk = 0; kk < k; ++kk) acc = std::fma(xp[i * k + kk], wp[j * k + kk], acc);
            want[i][j] = acc;
          }
        EXPECT_TRUE(at::equal(lin(x), want)) << "m=" << m << " n=" << n << " k=" << k;
        EXPECT_TRUE(at::equal(lin.add_to(x, r), r + want)) << "m=" << m << " n=" << n << " k=" << k;
      }
}

TEST_P(Kernels, PackedSgemmKeepsLeadingShapeAndAgreesWithTheAtenPath) {
  at::Tensor w = at::randn({96, 64}), x = at::randn({3, 5, 64});
  mg::Linear packed(w, mg::CpuGemm::Packed), aten(w, mg::CpuGemm::Aten);
  EXPECT_FALSE(aten.packed());
  at::Tensor a = packed(x), b = aten(x);
  EXPECT_EQ(a.sizes(), b.sizes());
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(at::equal(packed.weight(), w));
  EXPECT_EQ(packed(at::randn({0, 64})).size(0), 0);
}

TEST_P(Kernels, PackedSgemmFusedGeluAndResidualMatchTheUnfusedOps) {
  at::manual_seed(3);
  for (int64_t m : {1, 9, 32})
    for (int64_t n : {40, 1040}) {
      // Scaled so that GELU sees its whole range, both tails included.
      at::Tensor w = at::randn({n, 256}) * 0.3, x = at::randn({m, 256});
      at::Tensor r = at::randn({m, n});
      mg::Linear lin(w, mg::CpuGemm::Packed);
      const at::Tensor y = lin(x);
      const at::Tensor exact = at::gelu(y.to(at::kDouble));
      // The erf approximation is within 1.5e-7 of erf: GELU within |y| * 1e-7 + rounding.
      EXPECT_LT(((lin.gelu(x).to(at::kDouble) - exact).abs() / (y.abs().to(at::kDouble) + 1))
                    .max()
                    .item<double>(),
                3e-7)
          << m << "x" << n;
      EXPECT_TRUE(at::equal(lin.add_to(x, r), r + y)) << m << "x" << n;
    }
  // Large |x|: GELU is x or 0, without NaN from exp or the division.
  mg::Linear id(at::eye(16) * 1, mg::CpuGemm::Packed);
  at::Tensor big = at::tensor({-1e4f, -60.f, -9.f, -1e-20f, 0.f, 1e-20f, 9.f, 60.f, 1e4f, 3.f, -3.f,
                               0.5f, -0.5f, 1.f, -1.f, 2.f})
                       .view({1, 16});
  EXPECT_LT((id.gelu(big) - at::gelu(big)).abs().max().item<double>(), 2e-6);
  // The ATen path gives the same results through the same calls.
  mg::Linear aten(at::eye(16), mg::CpuGemm::Aten);
  EXPECT_TRUE(at::equal(aten.gelu(big), at::gelu(big)));
  EXPECT_TRUE(at::equal(aten.add_to(big, big), big + big));
}

TEST_P(Kernels, PackedSgemmARowDoesNotDependOnTheOtherRowsOrTheThreadCount) {
  at::Tensor w = at::randn({1000, 512}), x = at::randn({33, 512});
  mg::Linear lin(w, mg::CpuGemm::Packed);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  at::Tensor one = lin(x);
  at::set_num_threads(2);
  at::Tensor two = lin(x);
  at::set_num_threads(threads);
  EXPECT_TRUE(at::equal(one, two));
  // Row 13 alone, and inside tiles of other sizes: bit for bit the same.
  EXPECT_TRUE(at::equal(lin(x.narrow(0, 13, 1)), one.narrow(0, 13, 1)));
  EXPECT_TRUE(at::equal(lin(x.narrow(0, 10, 5)), one.narrow(0, 10, 5)));
}

// softmax(scale q.k + mask) . v in float64, per (row, head).
at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               int64_t length, const at::Tensor& mask, double scale) {
  const int64_t N = k.size(0), heads = k.size(1), hd = k.size(3);
  at::Tensor qd = q.to(at::kDouble).view({N, heads, 1, hd});
  at::Tensor kd = k.narrow(2, 0, length).to(at::kDouble),
             vd = v.narrow(2, 0, length).to(at::kDouble);
  at::Tensor s = at::matmul(qd, kd.transpose(-1, -2)) * scale;
  if (mask.defined()) s = s + mask.to(at::kDouble).view({N, 1, 1, length});
  return at::matmul(at::softmax(s, -1), vd).view({N, heads * hd});
}

TEST_P(Kernels, DecodeAttentionMatchesFloat64ForEveryHeadWidthAndLength) {
  at::manual_seed(2);
  for (int64_t hd : {16, 48, 64, 112, 128})
    for (int64_t length : {1, 5, 16, 17, 100}) {
      const int64_t N = 3, heads = 2, cap = length + 4;
      ASSERT_TRUE(mg::kernels::decode_attention_available(hd));
      // q inside a wider row (like q within the fused q|k|v projection).
      at::Tensor q = at::randn({N, 3 * heads * hd}).narrow(1, 0, heads * hd);
      at::Tensor k = at::randn({N, heads, cap, hd}) * 2, v = at::randn({N, heads, cap, hd});
      const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
      at::Tensor got = mg::attend_one_query(q, k, v, length, at::Tensor(), scale);
      EXPECT_LT((got.to(at::kDouble) - attention_reference(q, k, v, length, at::Tensor(), scale))
                    .abs()
                    .max()
                    .item<double>(),
                2e-6)
          << "hd=" << hd << " length=" << length;
    }
  EXPECT_FALSE(mg::kernels::decode_attention_available(8));
  EXPECT_FALSE(mg::kernels::decode_attention_available(144));
}

TEST_P(Kernels, DecodeAttentionMaskedPositionsGetExactlyZeroWeight) {
  const int64_t N = 2, heads = 4, hd = 64, L = 20;
  at::Tensor q = at::randn({N, heads * hd}), k = at::randn({N, heads, L, hd});
  at::Tensor v = at::randn({N, heads, L, hd});
  at::Tensor mask = at::zeros({N, L});
  mask[0].narrow(0, 7, 13).fill_(-std::numeric_limits<float>::infinity());  // row 0: 7 real
  // Huge values at masked positions must not leak in, even as 0 * inf.
  v[0].narrow(1, 7, 13).fill_(1e30);
  const double scale = 0.125;
  at::Tensor got = mg::attend_one_query(q, k, v, L, mask, scale);
  at::Tensor want = attention_reference(q, k, v, L, mask, scale);
  EXPECT_LT((got.to(at::kDouble) - want).abs().max().item<double>(), 2e-6);
  // Row 0 equals attention over its first 7 positions alone.
  at::Tensor alone =
      mg::attend_one_query(q.narrow(0, 0, 1), k.narrow(0, 0, 1).narrow(2, 0, 7).contiguous(),
                           v.narrow(0, 0, 1).narrow(2, 0, 7).contiguous(), 7, at::Tensor(), scale);
  EXPECT_LT((alone - got.narrow(0, 0, 1)).abs().max().item<double>(), 1e-6);
}

TEST_P(Kernels, DecodeAttentionExtremeScoresStayFinite) {
  // Scores hundreds apart: the softmax saturates to one position, never inf/NaN. Seeded:
  // scores of ~1e3 carry float32 rounding of ~1e-4, which moves the few non-negligible
  // weights by that much relative, so the bound is 1e-4, not the 2e-6 of O(1) scores.
  at::manual_seed(4);
  const int64_t N = 1, heads = 1, hd = 16, L = 40;
  at::Tensor q = at::full({N, hd}, 10.0f), k = at::randn({N, heads, L, hd}) * 30;
  at::Tensor v = at::randn({N, heads, L, hd});
  at::Tensor got = mg::attend_one_query(q, k, v, L, at::Tensor(), 1.0);
  EXPECT_TRUE(at::isfinite(got).all().item<bool>());
  EXPECT_LT((got.to(at::kDouble) - attention_reference(q, k, v, L, at::Tensor(), 1.0))
                .abs()
                .max()
                .item<double>(),
            1e-4);
}

INSTANTIATE_TEST_SUITE_P(Isa, Kernels, ::testing::Values(Isa::Avx2, Isa::Avx512), isa_test_name);

// The outputs of every kernel path (each tile height, panel width, column tail, epilogue;
// attention with and without a mask, every head width, tails of the length) on one ISA.
std::vector<at::Tensor> every_kernel_output() {
  std::vector<at::Tensor> out;
  at::manual_seed(11);
  for (int64_t m : {1, 2, 5, 6, 7, 8, 13, 32, 33})
    for (int64_t n : {16, 40, 48, 100, 1040})
      for (int64_t k : {1, 7, 300}) {
        at::Tensor w = at::randn({n, k}) * 0.3, x = at::randn({m, k}), r = at::randn({m, n});
        mg::Linear lin(w, mg::CpuGemm::Packed);
        out.push_back(lin(x));
        out.push_back(lin.gelu(x));
        out.push_back(lin.add_to(x, r));
      }
  for (int64_t hd : {16, 64, 128})
    for (int64_t length : {1, 15, 16, 17, 200}) {
      const int64_t N = 3, heads = 2;
      at::Tensor q = at::randn({N, heads * hd}), k = at::randn({N, heads, length, hd}) * 3;
      at::Tensor v = at::randn({N, heads, length, hd});
      at::Tensor mask = at::zeros({N, length});
      if (length > 3)
        mask[1].narrow(0, 2, length - 3).fill_(-std::numeric_limits<float>::infinity());
      out.push_back(mg::attend_one_query(q, k, v, length, at::Tensor(), 0.125));
      out.push_back(mg::attend_one_query(q, k, v, length, mask, 0.125));
    }
  return out;
}

TEST(KernelIsas, Avx2AndAvx512GiveTheSameBits) {
  if (!mg::kernels::isa_supported(Isa::Avx512))
    GTEST_SKIP() << "this CPU has no AVX-512 to compare AVX2 with";
  const Isa saved = mg::kernels::kernel_isa();
  mg::kernels::set_kernel_isa(Isa::Avx512);
  const std::vector<at::Tensor> wide = every_kernel_output();
  mg::kernels::set_kernel_isa(Isa::Avx2);
  const std::vector<at::Tensor> narrow = every_kernel_output();
  mg::kernels::set_kernel_isa(saved);
  ASSERT_EQ(wide.size(), narrow.size());
  for (size_t i = 0; i < wide.size(); ++i)
    EXPECT_TRUE(at::equal(wide[i], narrow[i])) << "output " << i << ": max difference "
                                               << (wide[i] - narrow[i]).abs().max().item<double>();
}

TEST(KernelIsas, TheEnvironmentChoosesAndUnsupportedIsAnError) {
  EXPECT_STREQ(mg::kernels::isa_name(Isa::Avx2), "avx2");
  EXPECT_TRUE(mg::kernels::isa_supported(Isa::None));
  const Isa saved = mg::kernels::kernel_isa();
  // MGSWEEP_CPU_ISA, when the test runs under it (ctest kernels_isa_*), is what kernel_isa() gives.
  if (const char* env = std::getenv("MGSWEEP_CPU_ISA"))
    EXPECT_STREQ(mg::kernels::isa_name(saved), env);
  if (!mg::kernels::isa_supported(Isa::Avx512)) {
    try {
      mg::kernels::set_kernel_isa(Isa::Avx512);
      ADD_FAILURE() << "AVX-512 accepted on a CPU without it";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("does not have AVX-512F"), std::string::npos)
          << e.what();
    }
  }
  mg::kernels::set_kernel_isa(Isa::None);
  EXPECT_FALSE(mg::kernels::packed_sgemm_available());
  EXPECT_FALSE(mg::Linear(at::randn({16, 4}), mg::CpuGemm::Auto).packed());
  EXPECT_THROW(mg::Linear(at::randn({16, 4}), mg::CpuGemm::Packed), std::runtime_error);
  mg::kernels::set_kernel_isa(saved);
}

TEST(HugePages, BigBuffersAre2MbAlignedAndBehaveLikeEmpty) {
  at::Tensor big = mg::empty_huge({3, 1000, 1000}, at::TensorOptions().dtype(at::kFloat));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data_ptr()) % (2u << 20), 0u);
  EXPECT_EQ(big.sizes(), (std::vector<int64_t>{3, 1000, 1000}));
  EXPECT_TRUE(big.is_contiguous());
  big.fill_(2.0f);
  EXPECT_EQ(big.sum().item<double>(), 6e6);
  at::Tensor small = mg::empty_huge({10}, at::TensorOptions().dtype(at::kDouble));
  EXPECT_EQ(small.scalar_type(), at::kDouble);
  EXPECT_EQ(small.numel(), 10);
}

}  // namespace
