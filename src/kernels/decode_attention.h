// Attention of one new query position per (row, head) over a cache of keys and
// values: what every decoding step computes, in self-attention over the frames so
// far and in cross-attention over the text. float32.
//
// Why our own kernel: ATen computes this as one GEMV per (row, head) -- 512 calls
// per layer at batch 16 -- and the call overhead, not the arithmetic, set the time
// (13% of a batch-16 step). Here one pass per (row, head) reads each cached key and
// value once, and the threads split the (row, head) pairs. AVX-512 or AVX2, same bits.
#pragma once

#include <cstdint>

namespace mg::kernels {

struct DecodeAttentionArgs {
  int64_t rows = 0, heads = 0, head_dim = 0;  // head_dim: a multiple of 16
  int64_t length = 0;                         // cached positions to attend to
  const float* q = nullptr;                   // head h of row r at q + r*q_row_stride + h*head_dim
  int64_t q_row_stride = 0;
  const float* k = nullptr;  // position t of (r, h) at k + ((r*heads + h)*kv_capacity + t)*head_dim
  const float* v = nullptr;  // same layout as k
  int64_t kv_capacity = 0;
  const float* mask = nullptr;  // optional additive [rows, mask_row_stride] (-inf = masked)
  int64_t mask_row_stride = 0;
  float scale = 1.0f;    // scores = scale * (q . k) + mask
  float* out = nullptr;  // head h of row r at out + r*out_row_stride + h*head_dim
  int64_t out_row_stride = 0;
};

// True when the kernels run here (kernel_isa(): AVX2 or AVX-512) and head_dim is a
// multiple of 16 up to 128 (MusicGen: 64 in every published size).
bool decode_attention_available(int64_t head_dim);

// Softmax(scores) . V for the (row, head) pairs p = r*heads + h in [p_begin, p_end).
// scratch: `length` floats owned by the calling thread.
void decode_attention(const DecodeAttentionArgs& a, int64_t p_begin, int64_t p_end, float* scratch);

}  // namespace mg::kernels
