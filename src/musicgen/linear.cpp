#include "musicgen/linear.h"

#include <ATen/Parallel.h>

#include <stdexcept>
#include <string>

#include "musicgen/huge_pages.h"

namespace mg {

bool uses_packed_gemm(CpuGemm gemm, const at::TensorOptions& options) {
  const bool cpu_float32 =
      options.device().is_cpu() && at::typeMetaToScalarType(options.dtype()) == at::kFloat;
  if (!cpu_float32 || gemm == CpuGemm::Aten) return false;
  if (kernels::packed_sgemm_available()) return true;
  if (gemm == CpuGemm::Packed)
    throw std::runtime_error(
        std::string("the packed CPU GEMM needs AVX2 or AVX-512 (kernel ISA: ") +
        kernels::isa_name(kernels::kernel_isa()) + ")");
  return false;  // Auto where the kernels do not run (or MGSWEEP_CPU_ISA=none): ATen
}

Linear::Linear(const at::Tensor& weight, CpuGemm gemm) {
  shape_ = {weight.size(0), weight.size(1)};
  if (uses_packed_gemm(gemm, weight.options()))
    pack({weight}, weight.options());
  else
    weight_ = weight;
}

Linear::Linear(const std::vector<at::Tensor>& parts, const at::TensorOptions& run, CpuGemm gemm) {
  int64_t n = 0;
  for (const at::Tensor& p : parts) n += p.size(0);
  shape_ = {n, parts.front().size(1)};
  if (uses_packed_gemm(gemm, run)) {
    pack(parts, run);
    return;
  }
  std::vector<at::Tensor> converted;
  for (const at::Tensor& p : parts) converted.push_back(p.to(run));
  weight_ = converted.size() == 1 ? converted.front().contiguous() : at::cat(converted, 0);
  // Our own copy, never the caller's (read-only) mapping.
  if (weight_.data_ptr() == parts.front().data_ptr()) weight_ = weight_.clone();
}

void Linear::pack(const std::vector<at::Tensor>& parts, const at::TensorOptions& run) {
  // Row pointers into the parts as they are (float32 and contiguous: no copy), or into
  // a float32 copy of a part stored in another dtype.
  std::vector<at::Tensor> keep;
  std::vector<const float*> rows;
  rows.reserve(static_cast<size_t>(shape_.n));
  for (const at::Tensor& p : parts) {
    if (p.dim() != 2 || p.size(1) != shape_.k || !p.device().is_cpu())
      throw std::logic_error("Linear: the parts of a weight differ in width or device");
    at::Tensor f = p.to(at::kFloat).contiguous();
    keep.push_back(f);
    const float* base = f.data_ptr<float>();
    for (int64_t r = 0; r < f.size(0); ++r) rows.push_back(base + r * shape_.k);
  }
  if (static_cast<int64_t>(rows.size()) != shape_.n)
    throw std::logic_error("Linear: the parts do not add up to the weight");
  packed_ = empty_huge({shape_.floats()}, run);
  float* dst = packed_.data_ptr<float>();
  // Packing is a strided transpose; spread it over the threads (large has 3.3 B weights).
  at::parallel_for(0, shape_.panels(), 1, [&](int64_t b, int64_t e) {
    kernels::pack_weight_rows(rows.data(), shape_, dst, b, e);
  });
}

at::Tensor Linear::operator()(const at::Tensor& x) const {
  if (packed_.defined()) return run_packed(x, kernels::Epilogue::Store, at::Tensor());
  auto sizes = x.sizes().vec();
  sizes.back() = shape_.n;
  // (W x^T)^T: with few rows (decoding: 2 to 32) MKL packs its right operand on every
  // call; packing the small activation instead of the weight made every projection
  // 1.3-1.6x faster than x W^T (and at::linear was 3.5x slower still at batch 1).
  return at::mm(weight_, x.reshape({-1, shape_.k}).t()).t().contiguous().view(sizes);
}

at::Tensor Linear::gelu(const at::Tensor& x) const {
  if (packed_.defined()) return run_packed(x, kernels::Epilogue::Gelu, at::Tensor());
  return at::gelu((*this)(x));
}

at::Tensor Linear::add_to(const at::Tensor& x, const at::Tensor& residual) const {
  if (packed_.defined()) return run_packed(x, kernels::Epilogue::AddResidual, residual);
  return residual + (*this)(x);
}

at::Tensor Linear::run_packed(const at::Tensor& x, kernels::Epilogue epilogue,
                              const at::Tensor& residual) const {
  if (x.size(-1) != shape_.k || x.scalar_type() != at::kFloat || !x.device().is_cpu())
    throw std::logic_error("Linear: input does not match the packed weight");
  auto sizes = x.sizes().vec();
  sizes.back() = shape_.n;
  const at::Tensor xs = x.reshape({-1, shape_.k}).contiguous();
  const int64_t m = xs.size(0);
  at::Tensor r;
  if (epilogue == kernels::Epilogue::AddResidual) {
    r = residual.reshape({-1, shape_.n}).contiguous();
    if (r.size(0) != m || r.scalar_type() != at::kFloat)
      throw std::logic_error("Linear: residual does not match the output");
  }
  at::Tensor y = at::empty({m, shape_.n}, xs.options());
  if (m == 0) return y.view(sizes);
  const float* xp = xs.data_ptr<float>();
  const float* wp = packed_.data_ptr<float>();
  const float* rp = r.defined() ? r.data_ptr<float>() : nullptr;
  float* yp = y.data_ptr<float>();
  // Threads split the panels (output columns); every element is still one k-ordered
  // dot product, so the result does not depend on the thread count.
  // A chunk of at least ~32k multiply-adds per thread (ATen's own grain): tiny models
  // (the demo, tests) otherwise pay an OpenMP fork per microsecond of work.
  const int64_t per_panel = m * shape_.k * kernels::kPanelWidth;
  at::parallel_for(0, shape_.panels(), (32768 + per_panel - 1) / per_panel,
                   [&](int64_t b, int64_t e) {
                     kernels::packed_sgemm(xp, shape_.k, m, wp, shape_, b, e, yp, shape_.n,
                                           epilogue, rp, shape_.n);
                   });
  return y.view(sizes);
}

at::Tensor Linear::weight() const {
  if (!packed_.defined()) return weight_;
  at::Tensor w = at::empty({shape_.n, shape_.k}, packed_.options());
  kernels::unpack_weight(packed_.data_ptr<float>(), shape_, w.data_ptr<float>());
  return w;
}

}  // namespace mg
