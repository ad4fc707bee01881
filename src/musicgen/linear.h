// A bias-free projection y = x W^T as the decoder uses it, in the fastest form for
// where it runs: on a CPU with AVX2 or AVX-512 in float32, W packed once into the panels of
// kernels/packed_sgemm.h (the plain copy is dropped, so memory does not double);
// anywhere else (CUDA, half precision, other CPUs, MGSWEEP_CPU_ISA=none) a GEMM with W as the left
// operand.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "kernels/packed_sgemm.h"

namespace mg {

// Which CPU float32 GEMM the decoder uses. Auto = Packed where the CPU supports it.
// Aten exists so that benchmarks compare both in one run and tests check one
// against the other.
enum class CpuGemm { Auto, Packed, Aten };

class Linear {
 public:
  Linear() = default;
  // weight: [out, in] in the run's dtype and device.
  Linear(const at::Tensor& weight, CpuGemm gemm);
  // The parts of a fused weight ([out_i, in] each, e.g. q|k|v), stacked along out, as
  // stored (any float dtype, CPU; read only: Weights::get_readonly's mapping): packed
  // straight from them, or concatenated in `run`'s dtype and device for ATen.
  Linear(const std::vector<at::Tensor>& parts, const at::TensorOptions& run, CpuGemm gemm);

  // x: [..., in] -> [..., out], same dtype and device as the weight.
  at::Tensor operator()(const at::Tensor& x) const;
  // gelu(x W^T) (erf form), fused into the GEMM when packed.
  at::Tensor gelu(const at::Tensor& x) const;
  // residual + x W^T, residual [..., out]; fused when packed (a new tensor either way).
  at::Tensor add_to(const at::Tensor& x, const at::Tensor& residual) const;

  // The plain [out, in] weight (unpacked on demand when packed).
  at::Tensor weight() const;
  bool packed() const { return packed_.defined(); }
  int64_t out_features() const { return shape_.n; }
  int64_t in_features() const { return shape_.k; }

 private:
  void pack(const std::vector<at::Tensor>& parts, const at::TensorOptions& run);
  at::Tensor run_packed(const at::Tensor& x, kernels::Epilogue epilogue,
                        const at::Tensor& residual) const;

  at::Tensor weight_;  // plain, when not packed
  at::Tensor packed_;  // [shape_.floats()] float32 CPU, when packed
  kernels::PackedShape shape_;
};

// Whether `gemm` resolves to the packed kernel for this dtype and device.
bool uses_packed_gemm(CpuGemm gemm, const at::TensorOptions& options);

}  // namespace mg
