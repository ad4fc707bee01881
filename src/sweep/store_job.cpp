#include "sweep/store_job.h"

#include <filesystem>

#include "musicgen/errors.h"

namespace mg::sweep {
namespace fs = std::filesystem;

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

std::vector<uint64_t> unravel(int64_t flat, const std::vector<uint64_t>& shape) {
  std::vector<uint64_t> idx(shape.size());
  uint64_t f = static_cast<uint64_t>(flat);
  for (size_t i = shape.size(); i-- > 0;) {
    idx[i] = shape[i] ? f % shape[i] : 0;
    f = shape[i] ? f / shape[i] : 0;
  }
  return idx;
}

at::Device resolve_device(const std::string& want) {
  if (want.empty() || want == "auto") return at::hasCUDA() ? at::Device(at::kCUDA) : at::kCPU;
  return mg::parse_device(want);
}

std::unique_ptr<StoreJob> load_store_job(const Store& store, const std::string& model_override) {
  auto job = std::make_unique<StoreJob>();
  job->spec = load_job_text(store.attribute("spec_toml"), store.path() + ":spec_toml");
  if (!model_override.empty()) job->spec.model = model_override;
  const fs::path cfg = fs::path(job->spec.model) / "config.json";
  if (!fs::is_regular_file(cfg))
    throw InputError(store.path(), "spec_toml: model",
                     "the job's model folder '" + job->spec.model + "' has no config.json here",
                     "pass --model DIR with the model the run used");
  job->model_config = mg::MusicgenConfig::from_file(cfg.string());
  validate_against_model(job->spec, job->model_config);
  job->plan = std::make_unique<Plan>(job->spec, job->model_config);
  for (const DatasetSpec& d : job->plan->layout().datasets) {
    if (!store.has_dataset(d.path)) continue;
    const auto have = store.shape(d.path);
    if (have != d.shape)
      throw InputError(store.path(), d.path,
                       "has shape " + shape_text(have) + ", but the job with the model at " +
                           job->spec.model + " makes " + shape_text(d.shape),
                       "pass --model DIR with the model the run used");
  }
  return job;
}

at::Tensor decode_items(const Store& store, const std::string& codes_dataset,
                        const std::vector<int64_t>& items, const mg::MusicGen& model) {
  const std::vector<uint64_t> shape = store.shape(codes_dataset);
  if (shape.size() < 2 || store.type(codes_dataset) != ElemType::I16)
    throw InputError(store.path(), codes_dataset, "is not an int16 [..., K, T] codes dataset");
  const std::vector<uint64_t> axes(shape.begin(), shape.end() - 2);
  const uint64_t K = shape[shape.size() - 2], T = shape.back();
  const int64_t n = static_cast<int64_t>(items.size());
  std::vector<int16_t> codes(static_cast<size_t>(n) * K * T);
  Store::Index count(axes.size(), 1);
  count.push_back(K);
  count.push_back(T);
  for (int64_t i = 0; i < n; ++i) {
    Store::Index off = unravel(items[i], axes);
    off.push_back(0);
    off.push_back(0);
    store.read(codes_dataset, off, count, codes.data() + i * K * T, K * T * sizeof(int16_t));
  }
  const at::Tensor t =
      at::from_blob(codes.data(), {n, static_cast<int64_t>(K), static_cast<int64_t>(T)}, at::kShort)
          .to(at::kLong);
  return model.decode_audio(t);
}

}  // namespace mg::sweep
