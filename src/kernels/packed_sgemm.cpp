// Packing and dispatch; the tiles live in packed_sgemm_avx512.cpp and packed_sgemm_avx2.cpp.
#include "kernels/packed_sgemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace mg::kernels {

void packed_sgemm_avx512(const float* x, int64_t ldx, int64_t m, const float* packed,
                         const PackedShape& shape, int64_t p_begin, int64_t p_end, float* y,
                         int64_t ldy, Epilogue epilogue, const float* residual, int64_t ldr);
void packed_sgemm_avx2(const float* x, int64_t ldx, int64_t m, const float* packed,
                       const PackedShape& shape, int64_t p_begin, int64_t p_end, float* y,
                       int64_t ldy, Epilogue epilogue, const float* residual, int64_t ldr);

int64_t PackedShape::panel_width(int64_t p) const {
  const int64_t left = n - p * kPanelWidth;
  return left >= kPanelWidth ? kPanelWidth : (left + 15) / 16 * 16;
}

int64_t PackedShape::floats() const {
  const int64_t p = panels();
  return p == 0 ? 0 : panel_offset(p - 1) + panel_width(p - 1) * k;
}

bool packed_sgemm_available() { return kernel_isa() != Isa::None; }

void pack_panels_avx2(const float* const* rows, const PackedShape& s, float* packed,
                      int64_t p_begin, int64_t p_end);

void pack_weight_rows(const float* const* rows, const PackedShape& s, float* packed,
                      int64_t p_begin, int64_t p_end) {
#if defined(MGSWEEP_HAVE_X86_SIMD)
  if (isa_supported(Isa::Avx2)) return pack_panels_avx2(rows, s, packed, p_begin, p_end);
#endif
  for (int64_t p = p_begin; p < p_end; ++p) {
    const int64_t width = s.panel_width(p), col0 = p * kPanelWidth;
    const int64_t cols = std::min(width, s.n - col0);
    float* dst = packed + s.panel_offset(p);
    for (int64_t kk = 0; kk < s.k; ++kk) {
      float* row = dst + kk * width;
      for (int64_t j = 0; j < cols; ++j) row[j] = rows[col0 + j][kk];
      for (int64_t j = cols; j < width; ++j) row[j] = 0.0f;
    }
  }
}

void pack_weight(const float* w, int64_t ldw, const PackedShape& s, float* packed, int64_t p_begin,
                 int64_t p_end) {
  std::vector<const float*> rows(static_cast<size_t>(s.n));
  for (int64_t r = 0; r < s.n; ++r) rows[static_cast<size_t>(r)] = w + r * ldw;
  pack_weight_rows(rows.data(), s, packed, p_begin, p_end);
}

void unpack_weight(const float* packed, const PackedShape& s, float* w) {
  for (int64_t p = 0; p < s.panels(); ++p) {
    const int64_t width = s.panel_width(p), col0 = p * kPanelWidth;
    const int64_t cols = std::min(width, s.n - col0);
    const float* src = packed + s.panel_offset(p);
    for (int64_t kk = 0; kk < s.k; ++kk)
      for (int64_t j = 0; j < cols; ++j) w[(col0 + j) * s.k + kk] = src[kk * width + j];
  }
}

void packed_sgemm(const float* x, int64_t ldx, int64_t m, const float* packed,
                  const PackedShape& shape, int64_t p_begin, int64_t p_end, float* y, int64_t ldy,
                  Epilogue epilogue, const float* residual, int64_t ldr) {
#if defined(MGSWEEP_HAVE_X86_SIMD)
  if (kernel_isa() == Isa::Avx512)
    packed_sgemm_avx512(x, ldx, m, packed, shape, p_begin, p_end, y, ldy, epilogue, residual, ldr);
  else
    packed_sgemm_avx2(x, ldx, m, packed, shape, p_begin, p_end, y, ldy, epilogue, residual, ldr);
#else
  (void)x, (void)ldx, (void)m, (void)packed, (void)shape, (void)p_begin, (void)p_end, (void)y,
      (void)ldy, (void)epilogue, (void)residual, (void)ldr;
#endif
}

}  // namespace mg::kernels
