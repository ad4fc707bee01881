// Applies a set of interventions and records captures while the decoder runs.
// The decoder calls `at(site, x, step0)` for every site that `active(...)`
// reports; x is [rows, positions, width] and position j is generation step
// step0 + j. Everything per row is prepared once per generation, so the per-step
// cost is a handful of small in-place ops on the rows concerned.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <vector>

#include "musicgen/hooks.h"

namespace mg {

class HookRunner {
 public:
  // rows = 2B (conditional half then unconditional half); steps = the most steps
  // a per-step capture must hold.
  HookRunner(std::vector<Intervention> interventions, const std::vector<CaptureRequest>& captures,
             int64_t batch, int64_t steps, int64_t hidden, int64_t head_dim,
             const at::TensorOptions& options);
  HookRunner() = default;

  bool empty() const { return sites_.empty(); }
  bool layer_active(int64_t layer) const {
    return layer < static_cast<int64_t>(layer_mask_.size()) && layer_mask_[layer] != 0;
  }
  // Does any hook sit on (layer, kind) (any head for the head kinds)?
  bool active(int64_t layer, SiteKind kind) const {
    return layer_active(layer) && (layer_mask_[layer] & (1u << static_cast<int>(kind)));
  }
  // Runs the hooks on `x` (modified in place). For head kinds x is the whole
  // concatenated head output [rows, positions, heads * head_dim].
  void at(int64_t layer, SiteKind kind, at::Tensor& x, int64_t step0);

  std::vector<CaptureResult> take_captures();

 private:
  struct Capture {
    CaptureRequest req;
    at::Tensor buffer;  // PerStep: [rows, steps, width]; Sum: [rows, width] float64
    int64_t count = 0;
  };
  struct SiteHooks {
    std::vector<Intervention> interventions;
    std::vector<size_t> captures;  // indices into captures_
  };
  void apply(const Intervention& iv, at::Tensor& x, int64_t step0);
  void capture(Capture& c, const at::Tensor& x, int64_t step0);

  int64_t batch_ = 0;
  int64_t head_dim_ = 0;
  std::map<HookSite, SiteHooks> sites_;
  std::vector<Capture> captures_;
  std::vector<uint32_t> layer_mask_;
};

}  // namespace mg
