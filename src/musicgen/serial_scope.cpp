#include "musicgen/serial_scope.h"

#include <ATen/Parallel.h>

#ifdef _OPENMP
#include <omp.h>
#endif

// MKL's per-thread thread count, where LibTorch carries MKL (the x86 wheels do); weak, so that a
// LibTorch built with another BLAS links too. Returns the previous local setting (0: none).
// The C entry point: in the wheel the lower-case name is the Fortran one (int* argument).
extern "C" int MKL_Set_Num_Threads_Local(int nt) __attribute__((weak));

namespace mg {

struct SerialScope::State {
  int omp_previous = 1;
  int mkl_previous = 0;
};

SerialScope::SerialScope(bool on) {
  if (!on) return;
  state_ = std::make_unique<State>();
#ifdef _OPENMP
  // The calling thread's own OpenMP thread count (an ICV of this thread, not the process's):
  // ATen's parallel_for (at::get_num_threads()) and oneDNN read it and run inline.
  // ATen sets a thread's OpenMP count on the thread's first parallel call: have it done now,
  // or that first call (inside the scope) would undo ours.
  at::internal::lazy_init_num_threads();
  state_->omp_previous = omp_get_max_threads();
  omp_set_num_threads(1);
#endif
  if (MKL_Set_Num_Threads_Local) state_->mkl_previous = MKL_Set_Num_Threads_Local(1);
}

SerialScope::~SerialScope() {
  if (!state_) return;
  if (MKL_Set_Num_Threads_Local) MKL_Set_Num_Threads_Local(state_->mkl_previous);
#ifdef _OPENMP
  omp_set_num_threads(state_->omp_previous);
#endif
}

}  // namespace mg
