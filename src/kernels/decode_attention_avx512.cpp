// The AVX-512 decode attention (decode_attention.h): one pass per (row, head) over the
// cached keys, a softmax, one pass over the cached values.
#include "kernels/cpu_isa.h"
#include "kernels/decode_attention.h"

#if defined(MGSWEEP_HAVE_X86_SIMD)
#include <array>
#include <limits>
#include <utility>

#include "kernels/vec_math_avx512.h"

namespace mg::kernels {
namespace {

template <int NV>  // head_dim / 16
MG_AVX512 void one_pair(const DecodeAttentionArgs& a, int64_t r, int64_t h, float* scores) {
  const int64_t T = a.length, hd = 16 * NV;
  const float* q = a.q + r * a.q_row_stride + h * hd;
  const float* k = a.k + (r * a.heads + h) * a.kv_capacity * hd;
  const float* v = a.v + (r * a.heads + h) * a.kv_capacity * hd;
  const float* mask = a.mask ? a.mask + r * a.mask_row_stride : nullptr;
  __m512 qv[NV];
  for (int j = 0; j < NV; ++j) qv[j] = _mm512_loadu_ps(q + 16 * j);
  // Scores and their maximum.
  float top = -std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < T; ++t) {
    __m512 acc = _mm512_mul_ps(qv[0], _mm512_loadu_ps(k + t * hd));
#pragma GCC unroll 8
    for (int j = 1; j < NV; ++j)
      acc = _mm512_fmadd_ps(qv[j], _mm512_loadu_ps(k + t * hd + 16 * j), acc);
    float s = a.scale * reduce_add_16(acc);
    if (mask) s += mask[t];
    scores[t] = s;
    top = s > top ? s : top;
  }
  // exp(s - max), 16 at a time, and their sum (positions past T padded with -inf).
  const __m512 topv = _mm512_set1_ps(top);
  __m512 sumv = _mm512_setzero_ps();
  for (int64_t t = 0; t < T; t += 16) {
    const __mmask16 m =
        T - t >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (T - t)) - 1);
    const __m512 s = _mm512_mask_loadu_ps(_mm512_set1_ps(-std::numeric_limits<float>::infinity()),
                                          m, scores + t);
    const __m512 e = exp_nonpositive(_mm512_sub_ps(s, topv));
    _mm512_mask_storeu_ps(scores + t, m, e);
    sumv = _mm512_add_ps(sumv, e);
  }
  const float inv = 1.0f / reduce_add_16(sumv);
  // Weighted sum of the values.
  __m512 out[NV];
  for (int j = 0; j < NV; ++j) out[j] = _mm512_setzero_ps();
  for (int64_t t = 0; t < T; ++t) {
    const __m512 p = _mm512_set1_ps(scores[t]);
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j)
      out[j] = _mm512_fmadd_ps(p, _mm512_loadu_ps(v + t * hd + 16 * j), out[j]);
  }
  float* o = a.out + r * a.out_row_stride + h * hd;
  const __m512 invv = _mm512_set1_ps(inv);
  for (int j = 0; j < NV; ++j) _mm512_storeu_ps(o + 16 * j, _mm512_mul_ps(out[j], invv));
}

template <int NV>
MG_AVX512 void pairs(const DecodeAttentionArgs& a, int64_t p_begin, int64_t p_end, float* scratch) {
  for (int64_t p = p_begin; p < p_end; ++p) one_pair<NV>(a, p / a.heads, p % a.heads, scratch);
}

using PairsFn = void (*)(const DecodeAttentionArgs&, int64_t, int64_t, float*);

template <int... NVs>
constexpr std::array<PairsFn, sizeof...(NVs)> width_table(std::integer_sequence<int, NVs...>) {
  return {&pairs<NVs + 1>...};
}

}  // namespace

void decode_attention_avx512(const DecodeAttentionArgs& a, int64_t p_begin, int64_t p_end,
                             float* scratch) {
  // One instantiation per head width 16..128 (excluded widths never get here).
  static constexpr auto widths = width_table(std::make_integer_sequence<int, 8>{});
  widths[a.head_dim / 16 - 1](a, p_begin, p_end, scratch);
}

}  // namespace mg::kernels
#endif  // MGSWEEP_HAVE_X86_SIMD
