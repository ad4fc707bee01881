// Hook site names, intervention operations and step windows: the vocabulary of job files,
// `--patch` specs and the store. Plain C++ (no LibTorch), so that the parsers of those
// inputs can be fuzzed without it (tests/fuzz); hooks.h adds what runs on tensors.
//
// Site names (DESIGN.md), layers and heads counted from 0:
//   layers.{i}.self_attn            output of the self-attention out-projection
//   layers.{i}.cross_attn           output of the cross-attention out-projection
//   layers.{i}.mlp                  output of fc2
//   layers.{i}.self_attn.head.{h}   head h's slice of the attention output, before out-proj
//   layers.{i}.cross_attn.head.{h}
//   layers.{i}.out                  residual stream after layer i
#pragma once

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

}  // namespace mg
