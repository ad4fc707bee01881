#include "musicgen/patch_syntax.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "musicgen/errors.h"

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

std::vector<std::string> split_colons(const std::string& v) {
  std::vector<std::string> out;
  size_t start = 0, pos;
  while ((pos = v.find(':', start)) != std::string::npos) {
    out.push_back(v.substr(start, pos - start));
    start = pos + 1;
  }
  out.push_back(v.substr(start));
  return out;
}

}  // namespace

PatchSyntax parse_patch_syntax(const std::string& spec_in, int64_t num_layers, int64_t num_heads) {
  // Errors quote the spec, cut: a flag of kilobytes must still give a one-line message.
  const std::string shown = spec_in.size() <= 200 ? spec_in : printable(spec_in, 200);
  PatchSyntax ps;
  std::string spec = spec_in;
  const std::string both = "/both";
  if (spec.size() > both.size() &&
      spec.compare(spec.size() - both.size(), both.size(), both) == 0) {
    ps.both_halves = true;
    spec.resize(spec.size() - both.size());
  }
  const size_t at = spec.rfind('@');
  if (at != std::string::npos) {
    const std::string w = spec.substr(at + 1);
    const size_t dash = w.find('-');
    if (dash == std::string::npos || !parse_int(w.substr(0, dash), &ps.window.t0) ||
        !parse_int(w.substr(dash + 1), &ps.window.t1) || ps.window.t1 <= ps.window.t0)
      throw InputError("--patch", shown, "bad step window '@" + printable(w, 40) + "'",
                       "write @T0-T1 with T0 < T1, e.g. @10-50");
    spec.resize(at);
  }
  const size_t colon = spec.find(':');
  if (colon == std::string::npos) throw InputError("--patch", shown, "missing ':OP'", kFix);
  ps.site = HookSite::parse(spec.substr(0, colon), num_layers, num_heads, "--patch");
  std::string rest = spec.substr(colon + 1);
  std::string value;
  const size_t eq = rest.find('=');
  if (eq != std::string::npos) {
    value = rest.substr(eq + 1);
    rest.resize(eq);
  }
  if (!parse_op(rest, &ps.op))
    throw InputError("--patch", shown, "unknown operation '" + printable(rest, 40) + "'",
                     "use replace, adjust, add, scale or zero");
  // FILE and every TENSOR must be named: an empty one would only fail later, at the load.
  auto need_names = [&](const std::vector<std::string>& p) {
    for (const std::string& s : p)
      if (s.empty()) throw InputError("--patch", shown, "needs FILE.safetensors:TENSOR", kFix);
  };
  switch (ps.op) {
    case InterventionOp::Zero:
      if (!value.empty()) throw InputError("--patch", shown, "zero takes no value", kFix);
      break;
    case InterventionOp::Scale: {
      char* end = nullptr;
      ps.factor = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(ps.factor))
        throw InputError("--patch", shown, "scale needs a finite number, e.g. scale=0.5", kFix);
      break;
    }
    case InterventionOp::Add:
    case InterventionOp::Replace: {
      auto p = split_colons(value);
      if (p.size() != 2) throw InputError("--patch", shown, "needs =FILE.safetensors:TENSOR", kFix);
      need_names(p);
      ps.file = p[0];
      ps.desired = p[1];
      break;
    }
    case InterventionOp::Adjust: {
      auto p = split_colons(value);
      if (p.size() != 3)
        throw InputError("--patch", shown, "adjust needs =FILE.safetensors:DESIRED:ORIGINAL", kFix);
      need_names(p);
      ps.file = p[0];
      ps.desired = p[1];
      ps.original = p[2];
      break;
    }
  }
  return ps;
}

}  // namespace mg
