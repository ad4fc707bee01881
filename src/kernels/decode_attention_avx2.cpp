// The AVX2 decode attention: decode_attention_avx512.cpp with each 16-lane vector held
// as two ymm (lanes 0-7, 8-15), so that every FMA chain, exp and reduction is the
// AVX-512 kernel's and the output is bit-identical (cpu_isa.h).
#include "kernels/cpu_isa.h"
#include "kernels/decode_attention.h"

#if defined(MGSWEEP_HAVE_X86_SIMD)
#include <array>
#include <limits>
#include <utility>

#include "kernels/vec_math_avx2.h"

namespace mg::kernels {
namespace {

template <int NV>  // head_dim / 16
MG_AVX2 void one_pair(const DecodeAttentionArgs& a, int64_t r, int64_t h, float* scores) {
  const int64_t T = a.length, hd = 16 * NV;
  const float* q = a.q + r * a.q_row_stride + h * hd;
  const float* k = a.k + (r * a.heads + h) * a.kv_capacity * hd;
  const float* v = a.v + (r * a.heads + h) * a.kv_capacity * hd;
  const float* mask = a.mask ? a.mask + r * a.mask_row_stride : nullptr;
  __m256 qv[2 * NV];
  for (int j = 0; j < 2 * NV; ++j) qv[j] = _mm256_loadu_ps(q + 8 * j);
  // Scores and their maximum.
  float top = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < T; ++t) {
    const float* kt = k + t * hd;
    __m256 lo = _mm256_mul_ps(qv[0], _mm256_loadu_ps(kt));
    __m256 hi = _mm256_mul_ps(qv[1], _mm256_loadu_ps(kt + 8));
#pragma GCC unroll 8
    for (int j = 1; j < NV; ++j) {
      lo = _mm256_fmadd_ps(qv[2 * j], _mm256_loadu_ps(kt + 16 * j), lo);
      hi = _mm256_fmadd_ps(qv[2 * j + 1], _mm256_loadu_ps(kt + 16 * j + 8), hi);
    }
    float s = a.scale * reduce_add_16(lo, hi);
    if (mask) s += mask[t];
    scores[t] = s;
    top = s > top ? s : top;
  }
  // exp(s - max), 16 at a time, and their sum (positions past T padded with -inf).
  const __m256 topv = _mm256_set1_ps(top);
  __m256 sum_lo = _mm256_setzero_ps(), sum_hi = _mm256_setzero_ps();
  for (int64_t t = 0; t < T; t += 16) {
    alignas(32) float tail[16];
    float* s = scores + t;
    const int64_t live = T - t < 16 ? T - t : 16;
    if (live < 16) {
      for (int i = 0; i < 16; ++i)
        tail[i] = i < live ? s[i] : -std::numeric_limits<float>::infinity();
      s = tail;
    }
    const __m256 e_lo = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(s), topv));
    const __m256 e_hi = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(s + 8), topv));
    _mm256_storeu_ps(s, e_lo);
    _mm256_storeu_ps(s + 8, e_hi);
    if (live < 16)
      for (int i = 0; i < live; ++i) scores[t + i] = tail[i];
    sum_lo = _mm256_add_ps(sum_lo, e_lo);
    sum_hi = _mm256_add_ps(sum_hi, e_hi);
  }
  const float inv = 1.0f / reduce_add_16(sum_lo, sum_hi);
  // Weighted sum of the values.
  __m256 out[2 * NV];
  for (int j = 0; j < 2 * NV; ++j) out[j] = _mm256_setzero_ps();
  for (int64_t t = 0; t < T; ++t) {
    const __m256 p = _mm256_set1_ps(scores[t]);
#pragma GCC unroll 16
    for (int j = 0; j < 2 * NV; ++j)
      out[j] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + t * hd + 8 * j), out[j]);
  }
  float* o = a.out + r * a.out_row_stride + h * hd;
  const __m256 invv = _mm256_set1_ps(inv);
  for (int j = 0; j < 2 * NV; ++j) _mm256_storeu_ps(o + 8 * j, _mm256_mul_ps(out[j], invv));
}

template <int NV>
MG_AVX2 void pairs(const DecodeAttentionArgs& a, int64_t p_begin, int64_t p_end, float* scratch) {
  for (int64_t p = p_begin; p < p_end; ++p) one_pair<NV>(a, p / a.heads, p % a.heads, scratch);
}

using PairsFn = void (*)(const DecodeAttentionArgs&, int64_t, int64_t, float*);

template <int... NVs>
constexpr std::array<PairsFn, sizeof...(NVs)> width_table(std::integer_sequence<int, NVs...>) {
  return {&pairs<NVs + 1>...};
}

}  // namespace

void decode_attention_avx2(const DecodeAttentionArgs& a, int64_t p_begin, int64_t p_end,
                           float* scratch) {
  static constexpr auto widths = width_table(std::make_integer_sequence<int, 8>{});
  widths[a.head_dim / 16 - 1](a, p_begin, p_end, scratch);
}

}  // namespace mg::kernels
#endif  // MGSWEEP_HAVE_X86_SIMD
