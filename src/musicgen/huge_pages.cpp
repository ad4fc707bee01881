#include "musicgen/huge_pages.h"

#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace mg {

at::Tensor empty_huge(at::IntArrayRef sizes, const at::TensorOptions& options) {
  constexpr size_t kHuge = size_t{2} << 20;
  size_t bytes = at::elementSize(at::typeMetaToScalarType(options.dtype()));
  for (const int64_t s : sizes) bytes *= static_cast<size_t>(s);
  if (!options.device().is_cpu() || bytes < kHuge) return at::empty(sizes, options);
  const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = nullptr;
  if (posix_memalign(&p, kHuge, rounded) != 0) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without THP this is a no-op
#endif
  return at::from_blob(
      p, sizes, [](void* q) { std::free(q); }, options);
}

}  // namespace mg
