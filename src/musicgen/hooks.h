// Hook sites of the LM decoder and what can be done at them: read (capture)
// and write (intervene), per row of the batch, per generation step.
//
// Site names (DESIGN.md), layers and heads counted from 0:
//   layers.{i}.self_attn            output of the self-attention out-projection
//   layers.{i}.cross_attn           output of the cross-attention out-projection
//   layers.{i}.mlp                  output of fc2
//   layers.{i}.self_attn.head.{h}   head h's slice of the attention output, before out-proj
//   layers.{i}.cross_attn.head.{h}
//   layers.{i}.out                  residual stream after layer i
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace mg {

enum class SiteKind { SelfAttn, CrossAttn, Mlp, SelfAttnHead, CrossAttnHead, LayerOut };

struct HookSite {
  int64_t layer = 0;
  SiteKind kind = SiteKind::Mlp;
  int64_t head = -1;  // only for the head kinds

  std::string name() const;
  bool is_head() const { return kind == SiteKind::SelfAttnHead || kind == SiteKind::CrossAttnHead; }
  // Parses a site name; layers/heads checked against the model (pass -1 to skip).
  // Throws InputError(origin, field = the text, ...) on anything malformed.
  static HookSite parse(const std::string& text, int64_t num_layers, int64_t num_heads,
                        const std::string& origin = "hook site");
  bool operator==(const HookSite& o) const {
    return layer == o.layer && kind == o.kind && head == o.head;
  }
  bool operator<(const HookSite& o) const;
};

// Every site of a model, in a fixed order (layer-major; self_attn, cross_attn, mlp, out,
// then heads), for sweeps over "all components".
std::vector<HookSite> all_sites(int64_t num_layers, int64_t num_heads, bool with_heads);

enum class InterventionOp { Replace, Adjust, Add, Scale, Zero };
const char* op_name(InterventionOp op);
bool parse_op(const std::string& s, InterventionOp* out);

// Which generation steps a hook is active on: [t0, t1). Step s is the LM step
// that feeds grid column s (step 0 feeds the BOS column).
struct StepWindow {
  int64_t t0 = 0;
  int64_t t1 = std::numeric_limits<int64_t>::max();
  bool contains(int64_t s) const { return s >= t0 && s < t1; }
  bool is_all() const { return t0 == 0 && t1 == std::numeric_limits<int64_t>::max(); }
};

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
