// The AVX-512 tiles of packed_sgemm. A tile is MR rows of x by one panel (NV
// vectors of 16 columns): MR*NV accumulators stay in registers for the whole k
// loop (24 of the 32 zmm at MR=8, NV=3); per k it loads NV vectors of the panel and
// broadcasts MR scalars of x, i.e. 8+3 loads per 24 FMAs, so the FMA unit, not
// the loads, sets the pace. The panel (k*48 floats) stays in L2 while the row tiles
// pass over it, so each weight is read from memory once per call.
//
// The ISA is enabled per function (target attribute), not with -mavx512f for the
// file: inline library code instantiated here must not come out as AVX-512 code
// that the linker could pick for callers on CPUs without it.
#include "kernels/packed_sgemm.h"

#if defined(MGSWEEP_HAVE_X86_SIMD)
#include <array>
#include <utility>

#include "kernels/vec_math_avx512.h"

namespace mg::kernels {
namespace {

constexpr int kMaxRows = 8;

// Where a tile prefetches: `lines` cache lines per k step from `next` onwards.
struct Prefetch {
  const char* next = nullptr;
  int64_t lines = 0;
};

// The epilogue of a tile (Epilogue) with its residual rows, already offset to the tile.
struct Out {
  Epilogue epilogue = Epilogue::Store;
  const float* residual = nullptr;
  int64_t ldr = 0;
};

template <int MR, int NV>
MG_AVX512 void tile(const float* x, int64_t ldx, const float* b, int64_t k, float* y, int64_t ldy,
                    int64_t cols, Prefetch pf, Out out) {
  __m512 acc[MR][NV];
  // The loops over i and j must unroll completely, or the accumulators live in memory.
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < k; ++kk) {
    for (int64_t l = 0; l < pf.lines; ++l)
      _mm_prefetch(pf.next + (kk * pf.lines + l) * 64, _MM_HINT_T1);
    __m512 bv[NV];
#pragma GCC unroll 3
    for (int j = 0; j < NV; ++j) bv[j] = _mm512_loadu_ps(b + kk * (16 * NV) + 16 * j);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(x[i * ldx + kk]);
#pragma GCC unroll 3
      for (int j = 0; j < NV; ++j) acc[i][j] = _mm512_fmadd_ps(a, bv[j], acc[i][j]);
    }
  }
  // Constant indices only (fully unrolled, no break): an accumulator indexed at run time
  // lives in memory, and GCC then stores every accumulator on every k step.
#pragma GCC unroll 3
  for (int j = 0; j < NV; ++j) {
    const int64_t left = cols - 16 * j;
    const __mmask16 mask = left >= 16  ? static_cast<__mmask16>(0xFFFF)
                           : left <= 0 ? static_cast<__mmask16>(0)
                                       : static_cast<__mmask16>((1u << left) - 1);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      __m512 v = acc[i][j];
      if (out.epilogue == Epilogue::Gelu)
        v = gelu_erf(v);
      else if (out.epilogue == Epilogue::AddResidual)
        v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, out.residual + i * out.ldr + 16 * j), v);
      _mm512_mask_storeu_ps(y + i * ldy + 16 * j, mask, v);
    }
  }
}

using TileFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, int64_t,
                        Prefetch, Out);

template <int NV, int... MRs>
constexpr auto row_table(std::integer_sequence<int, MRs...>) {
  return std::array<TileFn, sizeof...(MRs)>{&tile<MRs + 1, NV>...};
}

}  // namespace

MG_AVX512 void packed_sgemm_avx512(const float* x, int64_t ldx, int64_t m, const float* packed,
                                   const PackedShape& shape, int64_t p_begin, int64_t p_end,
                                   float* y, int64_t ldy, Epilogue epilogue, const float* residual,
                                   int64_t ldr) {
  static constexpr auto rows1 = row_table<1>(std::make_integer_sequence<int, kMaxRows>{});
  static constexpr auto rows2 = row_table<2>(std::make_integer_sequence<int, kMaxRows>{});
  static constexpr auto rows3 = row_table<3>(std::make_integer_sequence<int, kMaxRows>{});
  for (int64_t p = p_begin; p < p_end; ++p) {
    const int64_t width = shape.panel_width(p), col0 = p * kPanelWidth;
    const int64_t cols = shape.n - col0 < width ? shape.n - col0 : width;
    const auto& table = width == 48 ? rows3 : width == 32 ? rows2 : rows1;
    const float* b = packed + shape.panel_offset(p);
    // The first row tile reads the panel from memory, the others from L2. Without
    // help the first tile waits on DRAM at the FMA rate while the rest leave the
    // memory bus idle, so the later tiles prefetch the next panel into L2, spread
    // evenly over their k loops. With a single tile (batch 1 and 2: bound by memory)
    // that tile prefetches the next panel itself, so that two panels are in flight.
    const int64_t tiles = (m + kMaxRows - 1) / kMaxRows;
    const int64_t first = tiles > 1 ? 1 : 0;  // the first tile that prefetches
    const char* next =
        p + 1 < p_end ? reinterpret_cast<const char*>(packed + shape.panel_offset(p + 1)) : nullptr;
    const int64_t next_lines = next ? (shape.panel_width(p + 1) * shape.k * 4 + 63) / 64 : 0;
    const int64_t per_tile = (next_lines + (tiles - first) - 1) / (tiles - first);
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t m0 = t * kMaxRows;
      const int64_t mr = m - m0 < kMaxRows ? m - m0 : kMaxRows;
      Prefetch pf;
      if (t >= first && next && shape.k > 0) {
        pf.lines = (per_tile + shape.k - 1) / shape.k;
        pf.next = next + (t - first) * per_tile * 64;
      }
      const Out out{epilogue, residual ? residual + m0 * ldr + col0 : nullptr, ldr};
      table[mr - 1](x + m0 * ldx, ldx, b, shape.k, y + m0 * ldy + col0, ldy, cols, pf, out);
    }
  }
}

}  // namespace mg::kernels
#endif  // MGSWEEP_HAVE_X86_SIMD
