#include "musicgen/patch_spec.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "musicgen/errors.h"
#include "musicgen/weights.h"

namespace mg {
namespace {

constexpr const char* kFix =
    "expected SITE:OP[=VALUE][@T0-T1][/both], e.g. layers.1.mlp:scale=0.5 or "
    "layers.3.self_attn.head.2:zero@10-50 (see mgsweep generate --help)";

bool parse_int(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 12) return false;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end != '\0' || v < 0) return false;
  *out = v;
  return true;
}

at::Tensor load_value(const std::string& spec, const std::string& file, const std::string& name) {
  if (file.empty() || name.empty())
    throw InputError("--patch", spec, "needs FILE.safetensors:TENSOR", kFix);
  // Errors name the spec: the user wrote a --patch, not a checkpoint.
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    throw InputError("--patch", spec, "value file " + file + " does not exist or is not a file",
                     "write the path of a .safetensors file");
  Weights w;
  try {
    w = Weights::open_file(file);
  } catch (const InputError& e) {
    throw InputError("--patch", spec, std::string("cannot read the value file: ") + e.what());
  }
  if (!w.has(name))
    throw InputError("--patch", spec, "tensor '" + name + "' is not in " + file,
                     "write FILE.safetensors:TENSOR with a tensor the file holds");
  at::Tensor t = w.get_unchecked(name, at::TensorOptions().dtype(at::kFloat));
  if ((t.dim() != 1 && t.dim() != 2) || t.size(0) == 0)
    throw InputError("--patch", spec,
                     file + ":" + name + " has " + std::to_string(t.dim()) +
                         " dimensions or no rows; it must be [width] or [steps, width]");
  return t;
}

}  // namespace

Intervention parse_patch(const std::string& spec_in, int64_t num_layers, int64_t num_heads) {
  Intervention iv;
  std::string spec = spec_in;
  const std::string both = "/both";
  if (spec.size() > both.size() &&
      spec.compare(spec.size() - both.size(), both.size(), both) == 0) {
    iv.both_halves = true;
    spec.resize(spec.size() - both.size());
  }
  const size_t at = spec.rfind('@');
  if (at != std::string::npos) {
    const std::string w = spec.substr(at + 1);
    const size_t dash = w.find('-');
    if (dash == std::string::npos || !parse_int(w.substr(0, dash), &iv.window.t0) ||
        !parse_int(w.substr(dash + 1), &iv.window.t1) || iv.window.t1 <= iv.window.t0)
      throw InputError("--patch", spec_in, "bad step window '@" + w + "'",
                       "write @T0-T1 with T0 < T1, e.g. @10-50");
    spec.resize(at);
  }
  const size_t colon = spec.find(':');
  if (colon == std::string::npos) throw InputError("--patch", spec_in, "missing ':OP'", kFix);
  iv.site = HookSite::parse(spec.substr(0, colon), num_layers, num_heads, "--patch");
  std::string rest = spec.substr(colon + 1);
  std::string value;
  const size_t eq = rest.find('=');
  if (eq != std::string::npos) {
    value = rest.substr(eq + 1);
    rest.resize(eq);
  }
  if (!parse_op(rest, &iv.op))
    throw InputError("--patch", spec_in, "unknown operation '" + rest + "'",
                     "use replace, adjust, add, scale or zero");
  auto parts = [&](const std::string& v) {
    std::vector<std::string> out;
    size_t start = 0, pos;
    while ((pos = v.find(':', start)) != std::string::npos) {
      out.push_back(v.substr(start, pos - start));
      start = pos + 1;
    }
    out.push_back(v.substr(start));
    return out;
  };
  switch (iv.op) {
    case InterventionOp::Zero:
      if (!value.empty()) throw InputError("--patch", spec_in, "zero takes no value", kFix);
      break;
    case InterventionOp::Scale: {
      char* end = nullptr;
      iv.factor = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(iv.factor))
        throw InputError("--patch", spec_in, "scale needs a finite number, e.g. scale=0.5", kFix);
      break;
    }
    case InterventionOp::Add:
    case InterventionOp::Replace: {
      auto p = parts(value);
      if (p.size() != 2)
        throw InputError("--patch", spec_in, "needs =FILE.safetensors:TENSOR", kFix);
      iv.desired = load_value(spec_in, p[0], p[1]);
      break;
    }
    case InterventionOp::Adjust: {
      auto p = parts(value);
      if (p.size() != 3)
        throw InputError("--patch", spec_in, "adjust needs =FILE.safetensors:DESIRED:ORIGINAL",
                         kFix);
      iv.desired = load_value(spec_in, p[0], p[1]);
      iv.original = load_value(spec_in, p[0], p[2]);
      break;
    }
  }
  return iv;
}

}  // namespace mg
