// `--patch` specifications: an intervention applied to every row of a generation.
//
//   SITE:OP[=VALUE][@T0-T1][/both]
//
//   SITE   a hook site name, e.g. layers.3.mlp or layers.3.self_attn.head.2
//   OP     replace | adjust | add | scale | zero
//   VALUE  scale:          a number                     (layers.1.mlp:scale=0.5)
//          add, replace:   FILE.safetensors:TENSOR      (a [width] or [steps, width] tensor)
//          adjust:         FILE.safetensors:DESIRED:ORIGINAL
//   @T0-T1 only generation steps T0 <= s < T1 (step s feeds grid column s)
//   /both  also the unconditional half of classifier-free guidance
#pragma once

#include <string>

#include "musicgen/hooks.h"

namespace mg {

// Parses one spec (row 0; the caller copies it to every row). Loads tensors from
// the named files as float32. Throws InputError naming the spec and what is wrong.
Intervention parse_patch(const std::string& spec, int64_t num_layers, int64_t num_heads);

}  // namespace mg
