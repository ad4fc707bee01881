// The weights of a checkpoint folder: model.safetensors or a sharded
// model.safetensors.index.json, memory-mapped. Tensors are handed out in the
// run dtype and device, with their shape checked against what config.json
// implies, so that a checkpoint that disagrees with its config fails at load
// with the tensor's name, not later inside a matmul.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "musicgen/safetensors.h"

namespace mg {

class Weights {
 public:
  // `dir` holds model.safetensors or model.safetensors.index.json.
  static Weights open_folder(const std::string& dir);
  // A single file (tests, fixtures).
  static Weights open_file(const std::string& path);

  bool has(const std::string& name) const;
  // Tensor `name` (first of `aliases` present) as `options`, shape checked.
  // Throws InputError naming the file and tensor when missing or mis-shaped.
  at::Tensor get(const std::string& name, at::IntArrayRef shape,
                 const at::TensorOptions& options) const;
  at::Tensor get_alias(const std::vector<std::string>& aliases, at::IntArrayRef shape,
                       const at::TensorOptions& options) const;
  // Tensor `name` as stored (its own dtype, on the CPU), shape checked, without a copy:
  // the checkpoint's read-only mapping (or an aligned copy of unaligned data). For callers
  // that only read it once to make their own layout (Linear's packing); writing to it
  // faults.
  at::Tensor get_readonly(const std::string& name, at::IntArrayRef shape) const;
  // Without a shape check (for tensors whose shape is itself the information).
  at::Tensor get_unchecked(const std::string& name, const at::TensorOptions& options) const;
  std::vector<std::string> names() const;
  const std::string& origin() const { return origin_; }

 private:
  struct Entry {
    std::shared_ptr<SafetensorsFile> file;
    const StTensor* tensor;
  };
  const Entry& entry(const std::string& name) const;
  void check_shape(const std::string& name, at::IntArrayRef shape) const;  // throws InputError
  at::Tensor view(const Entry& e) const;  // a CPU tensor over the mapped bytes

  std::string origin_;
  std::map<std::string, Entry> entries_;
};

at::ScalarType to_scalar_type(StDtype d);

}  // namespace mg
