// Small work on one thread. Each OpenMP fork and join costs microseconds (tens when a sleeping
// thread must be woken through a futex), while a decoding step of a small model is worth a few
// of them: the tiny demo model forked the team about 30 times per step (ATen's layer norm, MKL's
// GEMM, our kernels), and ran twice as slowly on 2 threads as on 1. A SerialScope makes the
// library calls made inside it run on the calling thread alone.
#pragma once

#include <cstdint>
#include <memory>

namespace mg {

class SerialScope {
 public:
  // on == false: a no-op (callers decide by the size of the work).
  explicit SerialScope(bool on);
  ~SerialScope();
  SerialScope(const SerialScope&) = delete;
  SerialScope& operator=(const SerialScope&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Below this many multiply-adds a decoding step runs in a SerialScope: about 0.5 ms of one
// core's work, against the ~30 forks of a step at 10-20 us each that 2 threads would cost.
inline constexpr double kSerialStepMacs = 32e6;

}  // namespace mg
