#include "musicgen/row_parallel.h"

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include <algorithm>
#include <exception>
#include <mutex>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace mg {

at::Tensor for_each_row(int64_t rows, const at::Device& device,
                        const std::function<at::Tensor(int64_t)>& fn,
                        const std::function<at::Tensor()>& batch) {
  if (!device.is_cpu() || rows <= 0) return batch();
  std::vector<at::Tensor> out(static_cast<size_t>(rows));
  std::exception_ptr error;
  std::mutex error_mu;
  // Grad mode, inference mode and the like are thread-local: the workers take the caller's.
  const at::ThreadLocalState state;
  auto one = [&](int64_t i) {
    try {
      at::ThreadLocalStateGuard guard(state);
      out[static_cast<size_t>(i)] = fn(i);
    } catch (...) {
      std::lock_guard<std::mutex> g(error_mu);
      if (!error) error = std::current_exception();
    }
  };
  const int threads = at::get_num_threads();
  if (threads <= 1) {
    // One thread: ATen, MKL and oneDNN already run single-threaded (at::set_num_threads(1)
    // set all three).
    for (int64_t i = 0; i < rows; ++i) one(i);
  } else {
#ifdef _OPENMP
    // A team of at least 2 even for a single row: inside an active parallel region ATen,
    // MKL and oneDNN (all on LibTorch's OpenMP runtime, which we link) run single-threaded;
    // called outside one, a lone row would get every thread and other numerics.
    const int team = static_cast<int>(std::max<int64_t>(2, std::min<int64_t>(threads, rows)));
#pragma omp parallel num_threads(team)
    {
      // Libraries choose kernels by the thread count they see (ATen runs 1x1 convolutions
      // through oneDNN only with more than one thread): make every row see 1, as with
      // --threads 1. This sets the ICV of this region's implicit task only.
      at::internal::lazy_init_num_threads();  // else ATen's first call here would undo it
      omp_set_num_threads(1);
#pragma omp for schedule(dynamic, 1)
      for (int64_t i = 0; i < rows; ++i) one(i);
    }
#else
    at::parallel_for(0, rows, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) one(i);
    });
#endif
  }
  if (error) std::rethrow_exception(error);
  return rows == 1 ? out[0] : at::cat(out, 0);
}

}  // namespace mg
