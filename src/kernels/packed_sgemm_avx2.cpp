// The AVX2 tiles of packed_sgemm, on the same packed panels as the AVX-512 tiles. AVX2
// has 16 ymm registers of 8 floats, so a panel (16, 32 or 48 columns) is computed in
// chunks of 16 columns: a tile is MR <= 6 rows of x by one chunk, 2*MR accumulators plus
// two panel vectors and one broadcast (15 registers at MR=6); per k it loads 2 vectors
// and broadcasts MR scalars for 2*MR FMAs. Each output element is the same FMA chain in
// k order as in the AVX-512 tile, so both give the same bits.
//
// A panel is computed chunk by chunk (a chunk, k x 16 floats, is 64 KB at k = 1024 and
// stays in L2 -- a whole 48-column panel of fc2, 768 KB, would not on Zen's 512 KB L2),
// each chunk by balanced row tiles (32 rows: 6+6+5+5+5+5, not 6*5+2); as in the
// AVX-512 kernel, the tiles that reuse a chunk prefetch a share of the next panel.
#include "kernels/cpu_isa.h"
#include "kernels/packed_sgemm.h"

#if defined(MGSWEEP_HAVE_X86_SIMD)
#include <algorithm>
#include <array>
#include <utility>

#include "kernels/vec_math_avx2.h"

namespace mg::kernels {
namespace {

constexpr int kMaxRows = 6;
constexpr int64_t kChunk = 16;  // columns per tile: two ymm

// `lines` cache lines from `next` on, one every `every` k steps (spread evenly over the
// tile's k loop, not one per step: per-step prefetches would run past the tile's share).
struct Prefetch {
  const char* next = nullptr;
  int64_t lines = 0;
  int64_t every = 1;
};

struct Out {
  Epilogue epilogue = Epilogue::Store;
  const float* residual = nullptr;
  int64_t ldr = 0;
};

inline MG_AVX2 __m256i lane_mask(int64_t left) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left)), lanes);
}

// b: the chunk's first column in the panel's row kk = 0; rows of the panel are `width`
// floats apart. cols: live columns of the chunk (1..16).
template <int MR>
MG_AVX2 void tile(const float* x, int64_t ldx, const float* b, int64_t width, int64_t k, float* y,
                  int64_t ldy, int64_t cols, Prefetch pf, Out out) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  const char* pf_at = pf.next;
  int64_t pf_left = pf.lines, pf_wait = 1;
  for (int64_t kk = 0; kk < k; ++kk) {
    if (pf_left > 0 && --pf_wait == 0) {
      _mm_prefetch(pf_at, _MM_HINT_T1);
      pf_at += 64;
      --pf_left;
      pf_wait = pf.every;
    }
    const __m256 b0 = _mm256_loadu_ps(b + kk * width), b1 = _mm256_loadu_ps(b + kk * width + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 a = _mm256_broadcast_ss(x + i * ldx + kk);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
  }
  // Constant indices only (fully unrolled, no break): an accumulator indexed at run time
  // would live in memory, and GCC then stores all of them on every k step.
#pragma GCC unroll 2
  for (int j = 0; j < 2; ++j) {
    const int64_t left = cols - 8 * j;
    const __m256i mask = lane_mask(left);  // all lanes off when left <= 0
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      __m256 v = acc[i][j];
      if (out.epilogue == Epilogue::Gelu)
        v = gelu_erf(v);
      else if (out.epilogue == Epilogue::AddResidual)
        v = _mm256_add_ps(_mm256_maskload_ps(out.residual + i * out.ldr + 8 * j, mask), v);
      _mm256_maskstore_ps(y + i * ldy + 8 * j, mask, v);
    }
  }
}

using TileFn = void (*)(const float*, int64_t, const float*, int64_t, int64_t, float*, int64_t,
                        int64_t, Prefetch, Out);

template <int... MRs>
constexpr auto row_table(std::integer_sequence<int, MRs...>) {
  return std::array<TileFn, sizeof...(MRs)>{&tile<MRs + 1>...};
}

}  // namespace

MG_AVX2 void packed_sgemm_avx2(const float* x, int64_t ldx, int64_t m, const float* packed,
                               const PackedShape& shape, int64_t p_begin, int64_t p_end, float* y,
                               int64_t ldy, Epilogue epilogue, const float* residual, int64_t ldr) {
  static constexpr auto rows = row_table(std::make_integer_sequence<int, kMaxRows>{});
  if (m <= 0) return;
  const int64_t tiles = (m + kMaxRows - 1) / kMaxRows;
  for (int64_t p = p_begin; p < p_end; ++p) {
    const int64_t width = shape.panel_width(p), col0 = p * kPanelWidth;
    const int64_t cols = shape.n - col0 < width ? shape.n - col0 : width;
    const int64_t chunks = width / kChunk;
    const float* b = packed + shape.panel_offset(p);
    // A chunk of a panel (k x 16 floats) stays in L2 while the row tiles pass over it.
    // As in the AVX-512 kernel, the passes that reuse it (all but each chunk's first
    // tile; every pass when there is one tile) bring in shares of the next panel.
    const int64_t first = tiles > 1 ? 1 : 0;
    const char* next =
        p + 1 < p_end ? reinterpret_cast<const char*>(packed + shape.panel_offset(p + 1)) : nullptr;
    const int64_t next_lines = next ? (shape.panel_width(p + 1) * shape.k * 4 + 63) / 64 : 0;
    const int64_t units = chunks * (tiles - first);
    const int64_t per_unit = (next_lines + units - 1) / units;
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t live = cols - c * kChunk;
      if (live <= 0) break;
      int64_t m0 = 0;
      for (int64_t t = 0; t < tiles; ++t) {
        // Balanced: the first m % tiles tiles get one row more.
        const int64_t mr = m / tiles + (t < m % tiles ? 1 : 0);
        Prefetch pf;
        if (t >= first && next && shape.k > 0) {
          const int64_t start = (c * (tiles - first) + t - first) * per_unit;
          pf.lines = std::min(per_unit, next_lines - start);
          pf.every = pf.lines > 0 ? std::max<int64_t>(1, shape.k / pf.lines) : 1;
          pf.next = next + start * 64;
        }
        const Out out{epilogue, residual ? residual + m0 * ldr + col0 + c * kChunk : nullptr, ldr};
        rows[mr - 1](x + m0 * ldx, ldx, b + c * kChunk, width, shape.k,
                     y + m0 * ldy + col0 + c * kChunk, ldy, live < kChunk ? live : kChunk, pf, out);
        m0 += mr;
      }
    }
  }
}

}  // namespace mg::kernels
#endif  // MGSWEEP_HAVE_X86_SIMD
