#include "musicgen/cpu_attention.h"

#include <ATen/Parallel.h>

#include <vector>

#include "kernels/decode_attention.h"

namespace mg {

at::Tensor attend_one_query(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            int64_t length, const at::Tensor& mask, double scale) {
  const int64_t N = k.size(0), heads = k.size(1), hd = k.size(3);
  at::Tensor out = at::empty({N, heads * hd}, k.options());
  kernels::DecodeAttentionArgs a;
  a.rows = N;
  a.heads = heads;
  a.head_dim = hd;
  a.length = length;
  a.q = q.data_ptr<float>();
  a.q_row_stride = q.stride(0);
  a.k = k.data_ptr<float>();
  a.v = v.data_ptr<float>();
  a.kv_capacity = k.size(2);
  if (mask.defined()) {
    a.mask = mask.data_ptr<float>();
    a.mask_row_stride = mask.stride(0);
  }
  a.scale = static_cast<float>(scale);
  a.out = out.data_ptr<float>();
  a.out_row_stride = out.stride(0);
  // Threads split the (row, head) pairs; each pair is computed the same way alone.
  // At least ~32k multiply-adds per thread, as in Linear.
  const int64_t per_pair = 2 * length * hd;
  at::parallel_for(0, N * heads, (32768 + per_pair - 1) / per_pair, [&](int64_t b, int64_t e) {
    std::vector<float> scratch(static_cast<size_t>(length));
    kernels::decode_attention(a, b, e, scratch.data());
  });
  return out;
}

}  // namespace mg
