#include "musicgen/weights.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "musicgen/errors.h"

namespace mg {
namespace fs = std::filesystem;

at::ScalarType to_scalar_type(StDtype d) {
  switch (d) {
    case StDtype::F64:
      return at::kDouble;
    case StDtype::F32:
      return at::kFloat;
    case StDtype::F16:
      return at::kHalf;
    case StDtype::BF16:
      return at::kBFloat16;
    case StDtype::I64:
      return at::kLong;
    case StDtype::I32:
      return at::kInt;
    case StDtype::I16:
      return at::kShort;
    case StDtype::I8:
      return at::kChar;
    case StDtype::U8:
      return at::kByte;
    case StDtype::BOOL:
      return at::kBool;
  }
  return at::kFloat;
}

Weights Weights::open_file(const std::string& path) {
  Weights w;
  w.origin_ = path;
  auto f = std::make_shared<SafetensorsFile>(path);
  for (const auto& t : f->header().tensors) w.entries_[t.name] = Entry{f, &t};
  return w;
}

Weights Weights::open_folder(const std::string& dir) {
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(single)) return open_file(single.string());
  if (!fs::exists(index))
    throw InputError(
        dir, "model.safetensors",
        "neither model.safetensors nor model.safetensors.index.json found",
        "download the checkpoint with `huggingface-cli download facebook/musicgen-small`"
        " (safetensors format); .bin checkpoints are not read");
  std::ifstream in(index);
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw InputError(index.string(), "weight_map", "missing or not an object");
  Weights w;
  w.origin_ = dir;
  std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      throw InputError(index.string(), "weight_map." + it.key(), "is not a file name");
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos ||
        shard.find("..") != std::string::npos)
      throw InputError(index.string(), "weight_map." + it.key(), "names a file outside the folder");
    auto& f = shards[shard];
    if (!f) {
      const fs::path shard_path = fs::path(dir) / shard;
      std::error_code ec;
      if (!fs::is_regular_file(shard_path, ec))
        throw InputError(index.string(), "weight_map." + it.key(),
                         "names shard '" + shard + "', which is not in the folder",
                         "the download is incomplete");
      f = std::make_shared<SafetensorsFile>(shard_path.string());
    }
    const StTensor* t = f->find(it.key());
    if (!t)
      throw InputError(f->path(), it.key(), "listed in the index but not in the shard",
                       "the download is incomplete");
    w.entries_[it.key()] = Entry{f, t};
  }
  return w;
}

bool Weights::has(const std::string& name) const { return entries_.count(name) > 0; }

std::vector<std::string> Weights::names() const {
  std::vector<std::string> out;
  for (const auto& kv : entries_) out.push_back(kv.first);
  return out;
}

const Weights::Entry& Weights::entry(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw InputError(origin_, name, "tensor missing from the checkpoint",
                     "the checkpoint does not match its config.json or is incomplete");
  return it->second;
}

at::Tensor Weights::view(const Entry& e) const {
  std::vector<int64_t> shape(e.tensor->shape.begin(), e.tensor->shape.end());
  const uint8_t* p = e.file->bytes(*e.tensor);
  const auto dtype = to_scalar_type(e.tensor->dtype);
  // The tensor borrows the mapping; the deleter keeps the file mapped while it lives.
  auto keep = e.file->mapping();
  at::Tensor t = at::from_blob(
      const_cast<uint8_t*>(p), shape, [keep](void*) {}, at::TensorOptions().dtype(dtype));
  // Unaligned data (legal in safetensors) would slow every kernel; copy it once.
  if (reinterpret_cast<uintptr_t>(p) % st_dtype_size(e.tensor->dtype) != 0) t = t.clone();
  return t;
}

at::Tensor Weights::get_unchecked(const std::string& name, const at::TensorOptions& options) const {
  // Always copy: the mapping is read-only and weights may be modified (weight norm
  // folding, fused QKV), and a copy in the run dtype is what the kernels want anyway.
  return view(entry(name)).to(options, /*non_blocking=*/false, /*copy=*/true).contiguous();
}

at::Tensor Weights::get(const std::string& name, at::IntArrayRef shape,
                        const at::TensorOptions& options) const {
  check_shape(name, shape);
  return get_unchecked(name, options);
}

at::Tensor Weights::get_readonly(const std::string& name, at::IntArrayRef shape) const {
  check_shape(name, shape);
  return view(entry(name));
}

void Weights::check_shape(const std::string& name, at::IntArrayRef shape) const {
  const Entry& e = entry(name);
  std::vector<int64_t> want(shape.begin(), shape.end());
  if (e.tensor->shape != want) {
    auto fmt = [](const std::vector<int64_t>& s) {
      std::string r = "[";
      for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
      return r + "]";
    };
    throw InputError(e.file->path(), name,
                     "has shape " + fmt(e.tensor->shape) + " but config.json implies " + fmt(want),
                     "config.json and the weights come from different checkpoints");
  }
}

at::Tensor Weights::get_alias(const std::vector<std::string>& aliases, at::IntArrayRef shape,
                              const at::TensorOptions& options) const {
  for (const auto& a : aliases)
    if (has(a)) return get(a, shape, options);
  return get(aliases.front(), shape, options);  // throws, naming the canonical name
}

}  // namespace mg
