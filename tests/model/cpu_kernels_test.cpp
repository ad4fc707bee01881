// The CPU float32 kernels (kernels/packed_sgemm, kernels/decode_attention) against
// float64 references computed with ATen, at shapes that hit every tile size, panel
// width and tail; and the properties the generation relies on: a row's result does
// not depend on the other rows or on the thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/decode_attention.h"
#include "kernels/packed_sgemm.h"
#include "musicgen/cpu_attention.h"
#include "musicgen/huge_pages.h"
#include "musicgen/linear.h"

namespace {

using mg::kernels::PackedShape;

#define SKIP_WITHOUT_AVX512() \
  if (!mg::kernels::packed_sgemm_available()) GTEST_SKIP() << "this CPU has no AVX-512"

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

TEST(PackedSgemm, MatchesFloat64AtEveryTileAndTail) {
  SKIP_WITHOUT_AVX512();
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

TEST(PackedSgemm, KeepsLeadingShapeAndAgreesWithTheAtenPath) {
  SKIP_WITHOUT_AVX512();
  at::Tensor w = at::randn({96, 64}), x = at::randn({3, 5, 64});
  mg::Linear packed(w, mg::CpuGemm::Packed), aten(w, mg::CpuGemm::Aten);
  EXPECT_FALSE(aten.packed());
  at::Tensor a = packed(x), b = aten(x);
  EXPECT_EQ(a.sizes(), b.sizes());
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(at::equal(packed.weight(), w));
  EXPECT_EQ(packed(at::randn({0, 64})).size(0), 0);
}

TEST(PackedSgemm, FusedGeluAndResidualMatchTheUnfusedOps) {
  SKIP_WITHOUT_AVX512();
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

TEST(PackedSgemm, ARowDoesNotDependOnTheOtherRowsOrTheThreadCount) {
  SKIP_WITHOUT_AVX512();
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

TEST(DecodeAttention, MatchesFloat64ForEveryHeadWidthAndLength) {
  SKIP_WITHOUT_AVX512();
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

TEST(DecodeAttention, MaskedPositionsGetExactlyZeroWeight) {
  SKIP_WITHOUT_AVX512();
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

TEST(DecodeAttention, ExtremeScoresStayFinite) {
  SKIP_WITHOUT_AVX512();
  // Scores hundreds apart: the softmax saturates to one position, never inf/NaN.
  const int64_t N = 1, heads = 1, hd = 16, L = 40;
  at::Tensor q = at::full({N, hd}, 10.0f), k = at::randn({N, heads, L, hd}) * 30;
  at::Tensor v = at::randn({N, heads, L, hd});
  at::Tensor got = mg::attend_one_query(q, k, v, L, at::Tensor(), 1.0);
  EXPECT_TRUE(at::isfinite(got).all().item<bool>());
  EXPECT_LT((got.to(at::kDouble) - attention_reference(q, k, v, L, at::Tensor(), 1.0))
                .abs()
                .max()
                .item<double>(),
            1e-5);
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
