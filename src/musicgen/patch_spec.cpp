#include "musicgen/patch_spec.h"

#include <filesystem>

#include "musicgen/errors.h"
#include "musicgen/patch_syntax.h"
#include "musicgen/weights.h"

namespace mg {
namespace {

at::Tensor load_value(const std::string& spec, const std::string& file, const std::string& name) {
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

Intervention parse_patch(const std::string& spec, int64_t num_layers, int64_t num_heads) {
  const PatchSyntax ps = parse_patch_syntax(spec, num_layers, num_heads);
  // A long flag must still give one short line.
  const std::string shown = spec.size() <= 200 ? spec : printable(spec, 200);
  Intervention iv;
  iv.site = ps.site;
  iv.op = ps.op;
  iv.window = ps.window;
  iv.both_halves = ps.both_halves;
  iv.factor = ps.factor;
  if (!ps.desired.empty()) iv.desired = load_value(shown, ps.file, ps.desired);
  if (!ps.original.empty()) iv.original = load_value(shown, ps.file, ps.original);
  return iv;
}

}  // namespace mg
