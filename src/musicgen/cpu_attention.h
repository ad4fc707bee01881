// Tensor-level entry to kernels/decode_attention: the attention of one new query
// position per row, as every decoding step computes it (float32, CPU, AVX2 or AVX-512).
#pragma once

#include <ATen/ATen.h>

namespace mg {

// q: [N, ...] whose row r holds the heads side by side from q[r][0] on (any row
// stride: q may sit inside the fused q|k|v projection); k, v: contiguous
// [N, heads, capacity, head_dim] of which the first `length` positions count;
// mask: undefined, or additive rows [N, ..., length] (-inf = masked).
// Returns softmax(scale q.k + mask) . v with merged heads, [N, heads * head_dim].
// Requires kernels::decode_attention_available(head_dim).
at::Tensor attend_one_query(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t length, const at::Tensor& mask, double scale);

}  // namespace mg
