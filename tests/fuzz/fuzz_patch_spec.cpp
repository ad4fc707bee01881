// libFuzzer target: `mgsweep generate --patch SPEC` -> mg::parse_patch_syntax (the torch-free
// part of mg::parse_patch; it loads no tensors). The first byte picks the model's layer and
// head counts (or none: -1), the rest is the spec. Parsing must either succeed or throw
// mg::InputError with a one-line message; a parsed spec is within the model, has a
// non-empty window and the value its operation needs, and written back in canonical form it
// parses again to the same thing.
//   seed corpus: the README's and patch_spec_test's examples (see tools/fuzz.sh)
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "fuzz_common.h"
#include "musicgen/errors.h"
#include "musicgen/patch_syntax.h"

namespace {

bool same(const mg::PatchSyntax& a, const mg::PatchSyntax& b) {
  return a.site == b.site && a.op == b.op && a.window.t0 == b.window.t0 &&
         a.window.t1 == b.window.t1 && a.both_halves == b.both_halves && (a.factor == b.factor) &&
         a.file == b.file && a.desired == b.desired && a.original == b.original;
}

// Names the canonical form can hold: none of the separators of the syntax.
bool plain(const std::string& s) { return s.find_first_of(":@=") == std::string::npos; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int64_t layers = (data[0] & 15) == 15 ? -1 : (data[0] & 15) + 1;
  const int64_t heads = (data[0] >> 4) == 15 ? -1 : (data[0] >> 4) + 1;
  const std::string spec(reinterpret_cast<const char*>(data + 1), size - 1);
  mg::PatchSyntax ps;
  try {
    ps = mg::parse_patch_syntax(spec, layers, heads);
  } catch (const mg::InputError& e) {
    fuzz::check_error_line(e.what());
    return 0;
  }
  if (ps.site.layer < 0 || (layers >= 0 && ps.site.layer >= layers)) __builtin_trap();
  if (ps.site.is_head() != (ps.site.head >= 0)) __builtin_trap();
  if (ps.site.is_head() && heads >= 0 && ps.site.head >= heads) __builtin_trap();
  if (ps.window.t0 < 0 || ps.window.t1 <= ps.window.t0) __builtin_trap();
  if (!std::isfinite(ps.factor)) __builtin_trap();
  const bool wants_file = ps.op == mg::InterventionOp::Add ||
                          ps.op == mg::InterventionOp::Replace ||
                          ps.op == mg::InterventionOp::Adjust;
  if (wants_file != !ps.file.empty() || wants_file != !ps.desired.empty()) __builtin_trap();
  if ((ps.op == mg::InterventionOp::Adjust) != !ps.original.empty()) __builtin_trap();

  // The canonical form: SITE:OP[=VALUE][@T0-T1][/both].
  if (!plain(ps.file) || !plain(ps.desired) || !plain(ps.original)) return 0;
  std::string text = ps.site.name() + ":" + mg::op_name(ps.op);
  if (ps.op == mg::InterventionOp::Scale) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", ps.factor);
    text += std::string("=") + buf;
  } else if (wants_file) {
    text += "=" + ps.file + ":" + ps.desired;
    if (!ps.original.empty()) text += ":" + ps.original;
  }
  if (!ps.window.is_all())
    text += "@" + std::to_string(ps.window.t0) + "-" + std::to_string(ps.window.t1);
  if (ps.both_halves) text += "/both";
  mg::PatchSyntax again;
  try {
    again = mg::parse_patch_syntax(text, layers, heads);
  } catch (const mg::InputError&) {
    __builtin_trap();  // the canonical form of a valid spec must be valid
  }
  if (!same(ps, again)) __builtin_trap();
  return 0;
}
