#include "sweep/rescore.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <system_error>

#include "classify/demo_classifier.h"
#include "classify/metrics.h"
#include "classify/torchscript_classifier.h"
#include "musicgen/errors.h"
#include "sweep/h5.h"
#include "sweep/h5_types.h"

namespace mg::sweep {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

std::string shape_text(const std::vector<uint64_t>& s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

// One element of type t holding `v` (native byte order), for the fill value.
std::vector<uint8_t> element_of(ElemType t, double v) {
  std::vector<uint8_t> b(elem_size(t));
  auto put = [&](auto x) { std::memcpy(b.data(), &x, sizeof x); };
  switch (t) {
    case ElemType::F32:
      put(static_cast<float>(v));
      break;
    case ElemType::F64:
      put(v);
      break;
    case ElemType::I64:
      put(static_cast<int64_t>(v));
      break;
    case ElemType::I32:
      put(static_cast<int32_t>(v));
      break;
    case ElemType::I16:
      put(static_cast<int16_t>(v));
      break;
    case ElemType::U8:
      put(static_cast<uint8_t>(v));
      break;
  }
  return b;
}

void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), path + ": cannot open");
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems cannot fsync a directory; the rename itself is done by then.
  if (rc != 0 && !(directory && (err == EINVAL || err == ENOTSUP)))
    throw std::system_error(err, std::generic_category(), path + ": fsync failed");
}

// The store's copy, opened with the HDF5 C API to add the new datasets. Objects are made
// the way Store::create makes them, so the file stays a store (Store::open checks that every
// dataset is contiguous and allocated; HDF5 then never changes metadata on a write).
class OutFile {
 public:
  explicit OutFile(const std::string& path) : path_(path) {
    h5::Quiet quiet;
    h5::Id fapl = h5::store_fapl();
    file_ = h5::file(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl));
    if (!file_.valid()) fail("cannot open it for writing");
  }

  // Whether the absolute path `p` names an object (every prefix is checked, as H5Lexists
  // requires).
  bool exists(const std::string& p) const {
    h5::Quiet quiet;
    for (size_t slash = p.find('/', 1);; slash = p.find('/', slash + 1)) {
      const std::string prefix = p.substr(0, slash);
      if (H5Lexists(file_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      if (slash == std::string::npos) return true;
    }
  }

  void remove(const std::string& p) {
    h5::Quiet quiet;
    if (H5Ldelete(file_, p.c_str(), H5P_DEFAULT) < 0) fail("cannot unlink " + p);
  }

  // Makes `p` and its parents as groups where missing.
  void group(const std::string& p) {
    h5::Quiet quiet;
    h5::Id gcpl = h5::plist(H5Pcreate(H5P_GROUP_CREATE));
    H5Pset_obj_track_times(gcpl, false);
    for (size_t slash = p.find('/', 1);; slash = p.find('/', slash + 1)) {
      const std::string g = p.substr(0, slash);
      if (!exists(g)) {
        h5::Id id = h5::group(H5Gcreate2(file_, g.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT));
        if (!id.valid()) fail("cannot create group " + g);
      }
      if (slash == std::string::npos) return;
    }
  }

  void dataset(const std::string& p, ElemType t, const std::vector<uint64_t>& shape, double fill,
               const std::string& doc) {
    group(p.substr(0, p.rfind('/')));
    h5::Quiet quiet;
    const std::vector<hsize_t> dims(shape.begin(), shape.end());
    h5::Id space =
        h5::dataspace(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
    h5::Id dcpl = h5::plist(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_layout(dcpl, H5D_CONTIGUOUS);
    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
    H5Pset_obj_track_times(dcpl, false);
    const std::vector<uint8_t> f = element_of(t, fill);
    H5Pset_fill_value(dcpl, mem_type(t), f.data());
    H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
    h5::Id ds = h5::dataset(
        H5Dcreate2(file_, p.c_str(), file_type(t), space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    if (!ds.valid()) fail("cannot create dataset " + p);
    if (!doc.empty()) attribute(ds, "doc", doc);
    datasets_[p] = {std::move(ds), t, shape};
  }

  // Writes the hyperslab [offset, offset + count) of a dataset made by dataset().
  void write(const std::string& p, const std::vector<uint64_t>& offset,
             const std::vector<uint64_t>& count, const void* data) {
    h5::Quiet quiet;
    const Made& d = datasets_.at(p);
    const std::vector<hsize_t> off(offset.begin(), offset.end()), cnt(count.begin(), count.end());
    h5::Id fspace = h5::dataspace(H5Dget_space(d.id));
    h5::Id mspace =
        h5::dataspace(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr));
    if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr) < 0 ||
        H5Dwrite(d.id, mem_type(d.type), mspace, fspace, H5P_DEFAULT, data) < 0)
      fail("cannot write " + p);
  }

  void write_all(const std::string& p, const void* data) {
    const Made& d = datasets_.at(p);
    write(p, std::vector<uint64_t>(d.shape.size(), 0), d.shape, data);
  }

  void attribute(const std::string& obj, const std::string& name, const std::string& value) {
    h5::Quiet quiet;
    h5::Id o = h5::object(H5Oopen(file_, obj.c_str(), H5P_DEFAULT));
    if (!o.valid()) fail("cannot open " + obj);
    attribute(o, name, value);
  }

  // Flushes, closes and fsyncs the file.
  void close_and_sync() {
    h5::Quiet quiet;
    datasets_.clear();
    if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) fail("H5Fflush failed");
    if (!file_.close()) fail("H5Fclose failed");
    fsync_path(path_, false);
  }

 private:
  struct Made {
    h5::Id id;
    ElemType type = ElemType::F32;
    std::vector<uint64_t> shape;
  };

  void attribute(hid_t obj, const std::string& name, const std::string& value) {
    h5::Id type = h5::datatype(H5Tcopy(H5T_C_S1));
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    h5::Id space = h5::dataspace(H5Screate(H5S_SCALAR));
    if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
    h5::Id attr =
        h5::attribute(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
    const char* p = value.c_str();
    if (!attr.valid() || H5Awrite(attr, type, &p) < 0) fail("cannot write attribute " + name);
  }

  [[noreturn]] void fail(const std::string& what) const {
    const std::string err = h5::last_error();
    throw std::runtime_error(path_ + ": " + what + (err.empty() ? "" : " (" + err + ")"));
  }

  std::string path_;
  h5::Id file_;
  std::map<std::string, Made> datasets_;
};

// The job's labels unless `labels_csv` is given (as the run's runner.cpp makes them).
std::unique_ptr<mg::Classifier> make_classifier(const std::string& which, const JobSpec& spec,
                                                const std::string& labels_csv, at::Device device) {
  const std::string csv = labels_csv.empty() ? spec.labels_path : labels_csv;
  if (which == "demo") {
    mg::DemoOptions o;
    o.device = device;
    mg::Labels labels =
        csv.empty() ? mg::Labels::numbered(spec.num_labels) : mg::Labels::load_csv(csv);
    return std::make_unique<mg::DemoClassifier>(labels, o);
  }
  if (!fs::is_regular_file(which))
    throw InputError(which, "--classifier", "no such file",
                     "give a TorchScript classifier (tools/export_passt.py) or 'demo'");
  mg::TorchScriptOptions o;
  o.device = device;
  o.labels_csv = csv;
  return std::make_unique<mg::TorchScriptClassifier>(which, o);
}

// Every class index the scores read must exist in the new classifier's output.
void check_classes(const JobSpec& spec, const mg::Classifier& cls, const std::string& which) {
  const int64_t n = cls.num_classes();
  for (const ConceptSpec& c : spec.concepts) {
    int64_t need = c.label;
    std::string what = "label " + std::to_string(c.label);
    for (int64_t r : c.relevant)
      if (r > need) need = r, what = "relevant label " + std::to_string(r);
    if (need >= n)
      throw InputError(which, "--classifier",
                       cls.name() + " has " + std::to_string(n) + " classes, but concept '" +
                           c.name + "' uses " + what + " (the job's labels need at least " +
                           std::to_string(need + 1) + " classes)",
                       "rescore with a classifier over the job's label set (num_labels = " +
                           std::to_string(spec.num_labels) + ")");
  }
}

void check_name(const std::string& name) {
  const bool ok =
      !name.empty() && name != "." && name != ".." &&
      std::all_of(name.begin(), name.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
      });
  if (!ok)
    throw InputError("--name", name, "not a valid name for /rescore/NAME",
                     "use letters, digits, '_', '-' and '.'");
}

// The done items of a stage in groups: the plan's batches (restricted to done items), or
// `batch` items at a time in plan order.
std::vector<std::vector<int64_t>> stage_groups(const Plan& plan, StageKind kind,
                                               const std::vector<uint8_t>& done, int64_t batch) {
  std::vector<std::vector<int64_t>> groups;
  std::vector<int64_t> all;
  for (const Batch& b : plan.batches) {
    if (b.stage != kind) continue;
    std::vector<int64_t> g;
    for (int64_t i = 0; i < b.count; ++i) {
      const int64_t f = plan.item_index(b, i);
      if (f >= 0 && f < static_cast<int64_t>(done.size()) && done[f]) g.push_back(f);
    }
    if (batch > 0)
      all.insert(all.end(), g.begin(), g.end());
    else if (!g.empty())
      groups.push_back(std::move(g));
  }
  for (size_t i = 0; i < all.size(); i += static_cast<size_t>(batch))
    groups.emplace_back(all.begin() + i,
                        all.begin() + std::min(all.size(), i + static_cast<size_t>(batch)));
  return groups;
}

}  // namespace

// ---------------------------------------------------------------------------------------

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

RescoreResult rescore(const RescoreOptions& o) {
  const auto t_start = Clock::now();
  RescoreResult res;
  if (o.classifier.empty())
    throw InputError("--classifier", "", "missing", "give a TorchScript file or 'demo'");
  res.name = !o.name.empty()          ? o.name
             : o.classifier == "demo" ? std::string("demo")
                                      : fs::path(o.classifier).stem().string();
  check_name(res.name);
  if (o.batch < 0) throw InputError("--batch", std::to_string(o.batch), "must be 0 or more");

  // The writer's lock, held to the end: no run writes the store while we copy and replace it.
  std::unique_ptr<Store> store = Store::open(o.store);
  const std::string group = "/rescore/" + res.name;
  bool exists = false;
  for (const std::string& d : store->datasets()) exists = exists || d.rfind(group + "/", 0) == 0;
  if (exists && !o.force)
    throw InputError(o.store, group, "exists already",
                     "use --name for another name, or --force to replace it");

  const auto job = load_store_job(*store, o.model);
  const Plan& plan = *job->plan;
  const JobSpec& spec = job->spec;
  const at::Device device = resolve_device(o.device.empty() ? spec.generation.device : o.device);
  std::unique_ptr<mg::Classifier> classifier =
      make_classifier(o.classifier, spec, o.labels, device);
  check_classes(spec, *classifier, o.classifier);
  const int64_t N = classifier->num_classes();
  res.classifier = classifier->name();
  res.num_classes = N;
  mg::MusicGen model(spec.model, mg::RunOptions{device, mg::parse_dtype(spec.generation.dtype)});

  const uint64_t C = plan.C, P = plan.P, uN = N;
  std::vector<std::vector<int32_t>> relevant;
  for (const ConceptSpec& c : spec.concepts)
    relevant.emplace_back(c.relevant.begin(), c.relevant.end());
  const double nan = std::numeric_limits<double>::quiet_NaN();

  auto last_note = Clock::now();
  auto note = [&](const char* stage, int64_t done, int64_t total, bool force) {
    if (o.quiet) return;
    const auto now = Clock::now();
    if (!force && now - last_note < std::chrono::seconds(5)) return;
    last_note = now;
    std::fprintf(stderr, "rescore: %s %lld/%lld items\n", stage, static_cast<long long>(done),
                 static_cast<long long>(total));
  };
  // Decode and classify as the run's executor did: channels averaged, the model's rate.
  auto score = [&](const std::string& codes, const std::vector<int64_t>& items) {
    at::Tensor audio = decode_items(*store, codes, items, model);
    if (audio.size(1) > 1) audio = audio.mean(1, /*keepdim=*/true);
    return classifier->classify(audio, model.sample_rate()).to(at::kFloat).contiguous();
  };

  const std::string tmp = o.store + ".rescore.tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  try {
    fs::copy_file(o.store, tmp, fs::copy_options::overwrite_existing);
    OutFile out(tmp);
    if (out.exists(group)) {
      if (!o.force)
        throw InputError(o.store, group, "exists already",
                         "use --name for another name, or --force to replace it");
      out.remove(group);
    }
    out.group(group);
    auto rows_out = [&](const std::string& ds, const std::vector<uint64_t>& axes,
                        const std::vector<int64_t>& items, const float* logits) {
      std::vector<uint64_t> count(axes.size(), 1);
      count.push_back(uN);
      for (size_t i = 0; i < items.size(); ++i) {
        std::vector<uint64_t> off = unravel(items[i], axes);
        off.push_back(0);
        out.write(ds, off, count, logits + i * uN);
      }
    };

    // Baseline: also the "before" of every intervention.
    std::vector<float> base_logits(C * P * uN, NAN);
    {
      const auto axes = store->shape("/baseline/done");
      const auto done = store->read_all<uint8_t>("/baseline/done");
      const auto groups = stage_groups(plan, StageKind::Baseline, done, o.batch);
      int64_t total = 0;
      for (const auto& g : groups) total += static_cast<int64_t>(g.size());
      std::vector<double> ndcg(C * P, nan);
      const std::string lg = group + "/baseline/logits", nd = group + "/baseline/ndcg";
      out.dataset(lg, ElemType::F32, {C, P, uN}, nan,
                  "logits of " + classifier->name() + " [concept_id, prompt, class]");
      out.dataset(nd, ElemType::F64, {C, P}, nan, "NDCG of the concept_id's relevant labels");
      for (const auto& g : groups) {
        const at::Tensor logits = score("/baseline/codes", g);
        const float* l = logits.data_ptr<float>();
        for (size_t i = 0; i < g.size(); ++i) {
          const int64_t f = g[i], c = f / static_cast<int64_t>(P);
          std::copy(l + i * uN, l + (i + 1) * uN, base_logits.begin() + f * uN);
          ndcg[f] = mg::metrics::ndcg(l + i * uN, uN, relevant[c].data(), relevant[c].size()).value;
        }
        res.items[0] += static_cast<int64_t>(g.size());
        note("baseline", res.items[0], total, false);
      }
      out.write_all(lg, base_logits.data());
      out.write_all(nd, ndcg.data());
      note("baseline", res.items[0], total, true);
    }

    if (store->has_dataset("/lens/done")) {
      const auto axes = store->shape("/lens/done");  // [C, P, nK]
      const auto done = store->read_all<uint8_t>("/lens/done");
      const auto groups = stage_groups(plan, StageKind::Lens, done, o.batch);
      int64_t total = 0;
      for (const auto& g : groups) total += static_cast<int64_t>(g.size());
      std::vector<double> ndcg(done.size(), nan);
      const std::string lg = group + "/lens/logits", nd = group + "/lens/ndcg";
      std::vector<uint64_t> lshape = axes;
      lshape.push_back(uN);
      out.dataset(lg, ElemType::F32, lshape, nan,
                  "logits of " + classifier->name() + " [concept_id, prompt, k index, class]");
      out.dataset(nd, ElemType::F64, axes, nan, "NDCG of the concept_id's relevant labels");
      const int64_t per_concept = static_cast<int64_t>(axes[1] * axes[2]);
      for (const auto& g : groups) {
        const at::Tensor logits = score("/lens/codes", g);
        const float* l = logits.data_ptr<float>();
        rows_out(lg, axes, g, l);
        for (size_t i = 0; i < g.size(); ++i) {
          const int64_t c = g[i] / per_concept;
          ndcg[g[i]] =
              mg::metrics::ndcg(l + i * uN, uN, relevant[c].data(), relevant[c].size()).value;
        }
        res.items[1] += static_cast<int64_t>(g.size());
        note("lens", res.items[1], total, false);
      }
      out.write_all(nd, ndcg.data());
      note("lens", res.items[1], total, true);
    }

    if (store->has_dataset("/interventions/done")) {
      const auto axes = store->shape("/interventions/done");  // [nT, nQ, P, J]
      const auto done = store->read_all<uint8_t>("/interventions/done");
      const auto pairs = store->read_all<int64_t>("/interventions/pairs");  // [nQ, 2]
      const auto groups = stage_groups(plan, StageKind::Interventions, done, o.batch);
      int64_t total = 0;
      for (const auto& g : groups) total += static_cast<int64_t>(g.size());
      const size_t n = done.size();
      std::vector<double> effect(n, nan), orig(n, nan), des(n, nan), prec(n, nan);
      std::vector<uint8_t> status(n, 0);
      const std::string d = group + "/interventions/";
      std::vector<uint64_t> lshape = axes;
      lshape.push_back(uN);
      out.dataset(d + "logits", ElemType::F32, lshape, nan,
                  "logits of " + classifier->name() + " [technique, pair, prompt, target, class]");
      out.dataset(d + "effect", ElemType::F64, axes, nan, "log-odds effect (eq. 1)");
      out.dataset(d + "effect_original", ElemType::F64, axes, nan, "log(p_a,before / p_a,after)");
      out.dataset(d + "effect_desired", ElemType::F64, axes, nan, "log(p_b,after / p_b,before)");
      out.dataset(d + "precision", ElemType::F64, axes, nan, "-KL(before || after)");
      out.dataset(d + "status", ElemType::U8, axes, 0, "metrics status (0 ok)");
      const uint64_t nQ = axes[1], J = axes[3];
      for (const auto& g : groups) {
        const at::Tensor logits = score("/interventions/codes", g);
        const float* l = logits.data_ptr<float>();
        rows_out(d + "logits", axes, g, l);
        for (size_t i = 0; i < g.size(); ++i) {
          const uint64_t f = static_cast<uint64_t>(g[i]);
          const uint64_t q = (f / (P * J)) % nQ, p = (f / J) % P;
          const int64_t a = pairs[2 * q], b = pairs[2 * q + 1];
          const mg::metrics::EffectScore s =
              mg::metrics::effect_score(base_logits.data() + (a * P + p) * uN, l + i * uN, uN,
                                        static_cast<size_t>(spec.concepts[a].label),
                                        static_cast<size_t>(spec.concepts[b].label));
          effect[f] = s.effect;
          orig[f] = s.original;
          des[f] = s.desired;
          prec[f] = s.precision;
          status[f] = static_cast<uint8_t>(s.status);
        }
        res.items[2] += static_cast<int64_t>(g.size());
        note("interventions", res.items[2], total, false);
      }
      out.write_all(d + "effect", effect.data());
      out.write_all(d + "effect_original", orig.data());
      out.write_all(d + "effect_desired", des.data());
      out.write_all(d + "precision", prec.data());
      out.write_all(d + "status", status.data());
      note("interventions", res.items[2], total, true);
    }

    out.attribute(group, "classifier", classifier->name());
    out.attribute(group, "classifier_file", o.classifier);
    out.attribute(group, "num_classes", std::to_string(N));
    out.attribute(group, "model", spec.model);
    out.attribute(group, "device", device.str());
    out.attribute(group, "dtype", spec.generation.dtype);
    out.attribute(group, "batch", o.batch > 0 ? std::to_string(o.batch) : "run");
    out.attribute(group, "items_baseline", std::to_string(res.items[0]));
    out.attribute(group, "items_lens", std::to_string(res.items[1]));
    out.attribute(group, "items_interventions", std::to_string(res.items[2]));
    out.close_and_sync();

    if (::rename(tmp.c_str(), o.store.c_str()) != 0)
      throw std::system_error(errno, std::generic_category(),
                              o.store + ": cannot rename " + tmp + " over it");
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  const fs::path dir = fs::path(o.store).parent_path();
  fsync_path(dir.empty() ? "." : dir.string(), true);
  store.reset();  // releases the lock (nothing pending: open() checkpointed the journal)
  res.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  return res;
}

}  // namespace mg::sweep
