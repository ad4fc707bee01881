#include "sweep/rescore.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "classify/metrics.h"
#include "musicgen/errors.h"
#include "sweep/job_classifier.h"
#include "sweep/migrate.h"
#include "sweep/store_edit.h"
#include "sweep/store_job.h"

namespace mg::sweep {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

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
  // New scores beside old ones of another definition would mix two meanings in one file.
  require_current_schema(*store, "rescore");
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
      make_job_classifier(o.classifier, spec, job->model_config, o.labels, device);
  check_classes(spec, *classifier, o.classifier);
  check_clip_length(spec, job->model_config, *classifier, o.classifier);
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

  edit_store_copy(o.store, ".rescore.tmp", [&](StoreEdit& out) {
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
      out.dataset(d + "precision", ElemType::F64, axes, nan, kPrecisionDoc);
      out.dataset(d + "status", ElemType::U8, axes, 0, "metrics status (0 ok)");
      const uint64_t nQ = axes[1], J = axes[3];
      out.dataset(d + "ideal_precision", ElemType::F64, {nQ, P}, nan, kIdealPrecisionDoc);
      const std::vector<double> ideal = ideal_precisions(spec, pairs, base_logits, P, uN);
      out.write_all(d + "ideal_precision", ideal.data());
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
  });
  store.reset();  // releases the lock (nothing pending: open() checkpointed the journal)
  res.seconds = std::chrono::duration<double>(Clock::now() - t_start).count();
  return res;
}

}  // namespace mg::sweep
