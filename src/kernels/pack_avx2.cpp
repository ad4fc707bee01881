// Packing into panels (packed_sgemm.h) with 8 x 8 register transposes: eight rows of W,
// eight k each, become eight k-rows of a panel, eight columns each. One 32-byte load and
// one 32-byte store per row instead of 8 scalar gathers: packing musicgen-small's decoder
// (420 M weights) is bound by memory, not by the transpose.
#include "kernels/cpu_isa.h"
#include "kernels/packed_sgemm.h"

#if defined(MGSWEEP_HAVE_X86_SIMD)
#include <immintrin.h>

#include <algorithm>

#define MG_AVX2_PACK __attribute__((target("avx2,fma")))

namespace mg::kernels {
namespace {

// r[i] = row i (8 floats) -> r[i] = column i.
inline MG_AVX2_PACK void transpose8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

}  // namespace

MG_AVX2_PACK void pack_panels_avx2(const float* const* rows, const PackedShape& s, float* packed,
                                   int64_t p_begin, int64_t p_end) {
  const int64_t k8 = s.k / 8 * 8;
  for (int64_t p = p_begin; p < p_end; ++p) {
    const int64_t width = s.panel_width(p), col0 = p * kPanelWidth;
    const int64_t cols = std::min(width, s.n - col0);
    float* dst = packed + s.panel_offset(p);
    int64_t j = 0;
    // Full groups of 8 columns: transposed 8 x 8 blocks, then the k tail one by one.
    for (; j + 8 <= cols; j += 8) {
      const float* src[8];
      for (int i = 0; i < 8; ++i) src[i] = rows[col0 + j + i];
      for (int64_t kk = 0; kk < k8; kk += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src[i] + kk);
        transpose8(r);
        for (int t = 0; t < 8; ++t) _mm256_storeu_ps(dst + (kk + t) * width + j, r[t]);
      }
      for (int64_t kk = k8; kk < s.k; ++kk)
        for (int i = 0; i < 8; ++i) dst[kk * width + j + i] = src[i][kk];
    }
    // The last live columns (fewer than 8) and the zero padding up to the panel width.
    for (int64_t kk = 0; kk < s.k; ++kk) {
      float* row = dst + kk * width;
      for (int64_t c = j; c < cols; ++c) row[c] = rows[col0 + c][kk];
      for (int64_t c = cols; c < width; ++c) row[c] = 0.0f;
    }
  }
}

}  // namespace mg::kernels
#endif  // MGSWEEP_HAVE_X86_SIMD
