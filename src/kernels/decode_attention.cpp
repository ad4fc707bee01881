// Dispatch of the decode attention to its AVX-512 or AVX2 kernel (cpu_isa.h).
#include "kernels/decode_attention.h"

#include "kernels/cpu_isa.h"

namespace mg::kernels {

void decode_attention_avx512(const DecodeAttentionArgs& a, int64_t p_begin, int64_t p_end,
                             float* scratch);
void decode_attention_avx2(const DecodeAttentionArgs& a, int64_t p_begin, int64_t p_end,
                           float* scratch);

bool decode_attention_available(int64_t head_dim) {
  return head_dim > 0 && head_dim % 16 == 0 && head_dim <= 128 && kernel_isa() != Isa::None;
}

void decode_attention(const DecodeAttentionArgs& a, int64_t p_begin, int64_t p_end,
                      float* scratch) {
#if defined(MGSWEEP_HAVE_X86_SIMD)
  if (kernel_isa() == Isa::Avx512)
    decode_attention_avx512(a, p_begin, p_end, scratch);
  else
    decode_attention_avx2(a, p_begin, p_end, scratch);
#else
  (void)a, (void)p_begin, (void)p_end, (void)scratch;
#endif
}

}  // namespace mg::kernels
