// Vector math for the AVX-512 kernels: included only inside #if MGSWEEP_HAVE_X86_SIMD,
// and every function carries the target attribute (see packed_sgemm_avx512.cpp for
// why the ISA is enabled per function).
#pragma once

#include <immintrin.h>

#define MG_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

namespace mg::kernels {
namespace {

// exp(x) for x <= 0 (scores minus their maximum), 16 lanes. Cody-Waite reduction
// x = n ln2 + r, |r| <= ln2/2, a degree-6 Taylor polynomial for e^r (relative error
// below 2e-7, near float32 rounding), and the exact scaling by 2^n with scalef.
// -inf (a masked position) and anything below -104 give exactly 0.
inline MG_AVX512 __m512 exp_nonpositive(__m512 x) {
  const __m512 lowest = _mm512_set1_ps(-104.0f);
  const __mmask16 live = _mm512_cmp_ps_mask(x, lowest, _CMP_GT_OQ);
  x = _mm512_max_ps(x, lowest);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(live, _mm512_scalef_ps(p, n));
}

// GELU in its erf form, x/2 (1 + erf(x/sqrt 2)), as MusicGen's "gelu" activation.
// erf by Abramowitz-Stegun 7.1.26 (absolute error below 1.5e-7, so GELU is within
// |x| * 1e-7 of the exact value -- the rounding level of float32).
inline MG_AVX512 __m512 gelu_erf(__m512 x) {
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
  const __m512 az = _mm512_abs_ps(z);
  const __m512 t = _mm512_div_ps(
      _mm512_set1_ps(1.0f), _mm512_fmadd_ps(az, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  p = _mm512_mul_ps(p, t);
  const __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(az, az)));
  const __m512 erf_abs = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
  // erf is odd: negate where z < 0 (mask ops: AVX-512F only, no DQ).
  const __mmask16 negative = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 erf = _mm512_mask_sub_ps(erf_abs, negative, _mm512_setzero_ps(), erf_abs);
  return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)),
                       _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}

// The sum of the 16 lanes: halves, then quarters, then pairs (the order of GCC's
// _mm512_reduce_add_ps, written out so that vec_math_avx2.h's reduce_add_16 can follow it
// whatever the compiler).
inline MG_AVX512 float reduce_add_16(__m512 v) {
  const __m256 lo = _mm512_castps512_ps256(v);
  const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
  const __m256 h = _mm256_add_ps(hi, lo);
  const __m128 q = _mm_add_ps(_mm256_extractf128_ps(h, 1), _mm256_castps256_ps128(h));
  const __m128 s = _mm_add_ps(q, _mm_shuffle_ps(q, q, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm_cvtss_f32(s) + _mm_cvtss_f32(_mm_shuffle_ps(s, s, _MM_SHUFFLE(1, 1, 1, 1)));
}

}  // namespace
}  // namespace mg::kernels
