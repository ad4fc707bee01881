// The text of a `--patch` specification (see patch_spec.h), parsed without loading any of
// the tensors it names: plain C++ (no LibTorch), so that the parser can be fuzzed alone
// (tests/fuzz/fuzz_patch_spec.cpp). parse_patch() builds the Intervention from it.
#pragma once

#include <cstdint>
#include <string>

#include "musicgen/hook_site.h"

namespace mg {

struct PatchSyntax {
  HookSite site;
  InterventionOp op = InterventionOp::Add;
  StepWindow window;
  bool both_halves = false;
  double factor = 1.0;   // scale
  std::string file;      // add, replace, adjust: the .safetensors file
  std::string desired;   // ... the tensor with the value (adjust: the desired mean)
  std::string original;  // adjust: the original mean
};

// Throws InputError naming the spec and what is wrong. Layers and heads are checked against
// the model (pass -1 to skip).
PatchSyntax parse_patch_syntax(const std::string& spec, int64_t num_layers, int64_t num_heads);

}  // namespace mg
