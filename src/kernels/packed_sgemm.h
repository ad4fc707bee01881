// y = x W^T for the decoder's projections on CPU in float32, with W packed once at
// load time into column panels that the kernel streams front to back.
//
// Why our own kernel: decoding multiplies 2 to 32 activation rows by each weight.
// At those shapes MKL re-packs one operand on every call (a fifth of the time at
// batch 16) and its small-M kernels stay near half of the machine's FMA peak. Here
// every weight element is read from memory once per call and the activation rows
// stay in cache. Each output element is one dot product summed in k order by one
// thread, so a row's result does not depend on how many rows are in the batch or
// on the thread count: generation is bit-identical across batch splits and
// --threads.
//
// Tiles for AVX-512 and for AVX2 (cpu_isa.h: same bits from both), chosen at run time.
// Plain C++ on raw pointers (no LibTorch), so it is tested and benchmarked alone.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu_isa.h"

namespace mg::kernels {

// Panel width (columns of y per panel): three 16-float AVX-512 vectors (three 16-column
// chunks of two ymm each for AVX2).
inline constexpr int64_t kPanelWidth = 48;

// Layout of a packed [n, k] weight: panels of kPanelWidth output columns; panel p
// holds, for every kk in [0, k), its columns' W[col, kk] side by side (zero past n).
// The last panel is narrowed to a multiple of 16.
struct PackedShape {
  int64_t n = 0, k = 0;
  int64_t panels() const { return (n + kPanelWidth - 1) / kPanelWidth; }
  int64_t panel_width(int64_t p) const;  // 16, 32 or 48
  int64_t panel_offset(int64_t p) const { return p * kPanelWidth * k; }
  int64_t floats() const;  // size of the packed buffer
};

// True when the kernels run here: kernel_isa() is AVX2 or AVX-512.
bool packed_sgemm_available();

// w: [n, k] row-major (leading dimension ldw) -> packed (PackedShape::floats()
// floats), panels [p_begin, p_end) only (callers split the panels across threads).
void pack_weight(const float* w, int64_t ldw, const PackedShape& shape, float* packed,
                 int64_t p_begin, int64_t p_end);
// The same from one pointer per row of W (rows[r]: k contiguous floats), so that a fused
// weight (q|k|v) is packed straight from its parts -- the checkpoint's read-only mapping --
// with no concatenated copy. 8 x 8 blocks are transposed in registers where the CPU has
// AVX2: packing is a strided transpose and otherwise dominates loading a model.
void pack_weight_rows(const float* const* rows, const PackedShape& shape, float* packed,
                      int64_t p_begin, int64_t p_end);
// The inverse, for callers that need the plain weight back (tests, hooks).
void unpack_weight(const float* packed, const PackedShape& shape, float* w);

// What happens to x W^T on its way out of registers: fused here, it costs no extra
// pass over memory and no extra ATen call.
enum class Epilogue {
  Store,        // y = x W^T
  Gelu,         // y = gelu(x W^T), erf form
  AddResidual,  // y = r + x W^T (r may be y itself)
};

// y[m, cols of panels [p_begin, p_end)] = epilogue(x[m, k] W^T). x rows are ldx apart,
// y rows ldy apart, residual rows (AddResidual only) ldr apart. Requires
// packed_sgemm_available(). Different panel ranges write disjoint columns, so callers
// split panels across threads.
void packed_sgemm(const float* x, int64_t ldx, int64_t m, const float* packed,
                  const PackedShape& shape, int64_t p_begin, int64_t p_end, float* y, int64_t ldy,
                  Epilogue epilogue = Epilogue::Store, const float* residual = nullptr,
                  int64_t ldr = 0);

}  // namespace mg::kernels
