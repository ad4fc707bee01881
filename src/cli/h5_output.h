// Minimal HDF5 output for single commands (generate): whole arrays at once.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace mgcli {

class H5Output {
 public:
  explicit H5Output(const std::string& path);  // creates or truncates
  ~H5Output();
  H5Output(const H5Output&) = delete;
  H5Output& operator=(const H5Output&) = delete;
  // int64 or float32 tensors (others are converted to float32), any rank.
  void write(const std::string& name, const at::Tensor& t);
  void attribute(const std::string& name, const std::string& value);

 private:
  std::string path_;
  long long file_ = -1;
};

}  // namespace mgcli
