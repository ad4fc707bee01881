// Hook sites of the LM decoder and what can be done at them: read (capture)
// and write (intervene), per row of the batch, per generation step. The site names,
// operations and windows themselves (torch-free) are in hook_site.h.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "musicgen/hook_site.h"

namespace mg {

// One intervention on one batch element (prompt row). By default only the
// conditional row of the CFG pair is changed, as in the paper's code.
//   replace: out := desired            adjust: out := out - original + desired
//   add:     out := out + desired      scale:  out := out * factor      zero: out := 0
// `desired`/`original` are [width] (one vector for every step) or [steps, width]
// (a per-step mean: step s uses row s; steps past the end use the last row).
// width = hidden size, or head_dim for head sites.
struct Intervention {
  HookSite site;
  InterventionOp op = InterventionOp::Add;
  int64_t row = 0;           // batch element, 0..B-1
  bool both_halves = false;  // also the unconditional row B + row
  at::Tensor desired;
  at::Tensor original;
  double factor = 1.0;
  StepWindow window;
};

// What to record. Captures are per batch element and CFG half: the result has
// 2B rows, [conditional rows..., unconditional rows...].
// CondRowSumFixed: per step, the sum over the conditional rows of the values in
// fixed point (round(x * 2^32) as int64): an exact, order-independent sum, so that
// means reduced across batches and ranks are the same bits however the work was split.
enum class CaptureMode { PerStep, SumOverSteps, CondRowSumFixed };
constexpr double kFixedPointScale = 4294967296.0;  // 2^32
struct CaptureRequest {
  HookSite site;
  CaptureMode mode = CaptureMode::PerStep;
  StepWindow window;  // for SumOverSteps: which steps are summed
};
struct CaptureResult {
  HookSite site;
  CaptureMode mode;
  at::Tensor values;  // PerStep: [2B, steps, width] (run dtype); Sum: [2B, width] float64;
                      // CondRowSumFixed: [steps, width] int64
  int64_t count = 0;  // steps summed (SumOverSteps)
};

}  // namespace mg
