// Results that do not depend on the thread count. ATen's reductions, MKL's GEMM and oneDNN's
// convolutions split their work by the number of intra-op threads, so a batch computed with 2
// threads differs in its last bits from the same batch with 1 (T5, EnCodec and the
// classifiers did; a store must not mix such numerics when a resume or another rank uses
// another --threads). for_each_row computes every row of a batch alone on one thread, rows
// spread over the threads: each row's arithmetic is then the same whatever the thread count
// (and whatever else shares its batch), and the threads still all work when there are at
// least as many rows as threads -- the case of a sweep's batches.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>

namespace mg {

// fn(i) -> the result for row i, [1, ...]; returns them concatenated along dim 0. On a CUDA
// `device` (GPU kernels do not depend on the host's threads) it calls batch() instead, once.
// fn must not touch shared mutable state. Exceptions from fn are rethrown (the first).
at::Tensor for_each_row(int64_t rows, const at::Device& device,
                        const std::function<at::Tensor(int64_t)>& fn,
                        const std::function<at::Tensor()>& batch);

}  // namespace mg
