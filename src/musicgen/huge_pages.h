// Large CPU buffers backed by transparent huge pages where the kernel offers them
// (Linux, THP in "madvise" mode, as Debian ships it).
//
// Why: the decoder streams ~1.4 GB of packed weights per step at musicgen-small
// shapes and fills a KV cache that grows by one position per step in every (row,
// head) block. With 4 KB pages the cache's first touches cost ~300k page faults
// per batch-16 generation (3% of it) and the weight stream a TLB miss every 4 KB.
#pragma once

#include <ATen/ATen.h>

namespace mg {

// Like at::empty(sizes, options); CPU tensors of 2 MB or more are 2 MB-aligned and
// advised as huge pages. Other devices and small sizes: at::empty.
at::Tensor empty_huge(at::IntArrayRef sizes, const at::TensorOptions& options);

}  // namespace mg
