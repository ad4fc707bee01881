// A classifier stored as a TorchScript file, e.g. PaSST exported by tools/export_passt.py.
//
// The file carries its own description in two extra files written by the exporter:
//   mgsweep.json  {"format": "mgsweep.classifier", "format_version": 1, "sample_rate": 32000,
//                  "input_samples": 320000, "num_classes": 527, "output": "logits", ...}
//   labels.csv    the class names (index,mid,display_name), optional
// Its forward takes float32 [rows, input_samples] at sample_rate and returns
// [rows, num_classes] logits.
#pragma once

#include <memory>
#include <string>

#include "classify/classifier.h"

namespace mg {

struct TorchScriptOptions {
  at::Device device = at::kCPU;
  int64_t max_batch = 16;  // rows per forward call (halved automatically on CUDA OOM)
  // Label CSV for a file without labels.csv; ignored when the file has one.
  std::string labels_csv;
};

class TorchScriptClassifier final : public Classifier {
 public:
  // Loads and validates the file; throws mg::InputError naming the file and what is wrong.
  explicit TorchScriptClassifier(const std::string& path, const TorchScriptOptions& options = {});
  ~TorchScriptClassifier() override;

  std::string name() const override { return "torchscript:" + path_; }
  int64_t sample_rate() const override { return sample_rate_; }
  int64_t input_samples() const override { return input_samples_; }
  const Labels& labels() const override { return labels_; }
  at::Device device() const override { return device_; }
  // The file's mgsweep.json, verbatim (for the store's run metadata).
  const std::string& metadata_json() const { return metadata_json_; }

 protected:
  at::Tensor forward(const at::Tensor& audio) override;

 private:
  struct Module;  // torch::jit::Module, kept out of this header (torch/script.h is heavy)
  std::unique_ptr<Module> module_;
  std::string path_;
  at::Device device_;
  int64_t sample_rate_ = 0;
  int64_t input_samples_ = 0;
  Labels labels_;
  std::string metadata_json_;
};

}  // namespace mg
