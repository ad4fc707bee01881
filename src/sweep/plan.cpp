#include "sweep/plan.h"

#include <algorithm>

#include "musicgen/errors.h"
#include "sweep/item_checksum.h"
#include "sweep/prompts.h"

namespace mg::sweep {

const char* stage_name(StageKind s) {
  switch (s) {
    case StageKind::Baseline:
      return "baseline";
    case StageKind::Lens:
      return "lens";
    case StageKind::Interventions:
      return "interventions";
  }
  return "?";
}

std::string Target::name() const {
  std::string n = site.name();
  if (!window.is_all()) n += "@" + std::to_string(window.t0) + "-" + std::to_string(window.t1);
  return n;
}

Plan::Plan(const JobSpec& s, const mg::MusicgenConfig& model) : spec(s) {
  C = static_cast<int64_t>(spec.concepts.size());
  P = spec.prompts_per_concept;
  K = model.decoder.num_codebooks;
  frames = spec.generation.frames;
  steps = frames + model.decoder.max_delay();
  L = model.decoder.num_hidden_layers;
  H = model.decoder.hidden_size;
  head_dim = model.decoder.head_dim();
  classes = spec.num_labels;
  for (int64_t c = 0; c < C; ++c) {
    prompts.push_back(concept_prompts(spec, static_cast<size_t>(c)));
    if (static_cast<int64_t>(prompts.back().size()) < P)
      throw mg::InputError(spec.source, "prompts_per_concept",
                           "concept '" + spec.concepts[c].name + "' has only " +
                               std::to_string(prompts.back().size()) + " prompts");
    prompts.back().resize(static_cast<size_t>(P));
  }
  if (spec.lens.enabled) lens_ks = spec.lens.layers;
  const auto& iv = spec.interventions;
  if (iv.enabled) {
    mean_sites = intervention_sites(spec);
    for (const auto& t : iv.techniques) {
      mg::InterventionOp op;
      if (!mg::parse_op(t, &op)) throw mg::InputError(spec.source, "interventions.techniques", t);
      techniques.push_back(op);
    }
    for (const auto& [a, b] : iv.pairs)
      pairs.emplace_back(static_cast<int64_t>(a), static_cast<int64_t>(b));
    std::vector<mg::StepWindow> windows = iv.windows;
    if (windows.empty()) windows.push_back({});
    for (size_t m = 0; m < mean_sites.size(); ++m)
      for (const auto& w : windows)
        targets.push_back(Target{mean_sites[m], w, static_cast<int64_t>(m)});
  }

  // Dispatch order: all baselines first (means gate the interventions), then the
  // lens cuts, then interventions pair by pair so that few means are needed at once.
  const int64_t bs = std::max<int64_t>(1, spec.batch_size);
  if (spec.baseline.enabled || iv.enabled)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < P; p += bs) {
        Batch b;
        b.stage = StageKind::Baseline, b.concept_id = c, b.prompt0 = p,
        b.count = std::min(bs, P - p);
        batches.push_back(b);
      }
  for (int64_t k = 0; k < static_cast<int64_t>(lens_ks.size()); ++k)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t p = 0; p < P; p += bs) {
        Batch b;
        b.stage = StageKind::Lens, b.concept_id = c, b.prompt0 = p, b.count = std::min(bs, P - p);
        b.lens = k;
        batches.push_back(b);
      }
  const int64_t J = static_cast<int64_t>(targets.size());
  for (int64_t q = 0; q < static_cast<int64_t>(pairs.size()); ++q)
    for (int64_t t = 0; t < static_cast<int64_t>(techniques.size()); ++t)
      for (int64_t p = 0; p < P; ++p)
        for (int64_t j = 0; j < J; j += bs) {
          Batch b;
          b.stage = StageKind::Interventions, b.concept_id = pairs[q].first, b.prompt0 = p;
          b.count = std::min(bs, J - j);
          b.technique = t;
          b.pair = q;
          b.target0 = j;
          batches.push_back(b);
        }
}

int64_t Plan::items(StageKind s) const {
  switch (s) {
    case StageKind::Baseline:
      return C * P;
    case StageKind::Lens:
      return C * P * static_cast<int64_t>(lens_ks.size());
    case StageKind::Interventions:
      return static_cast<int64_t>(techniques.size() * pairs.size()) * P *
             static_cast<int64_t>(targets.size());
  }
  return 0;
}

int64_t Plan::item_index(const Batch& b, int64_t i) const {
  const int64_t nK = static_cast<int64_t>(lens_ks.size()), J = static_cast<int64_t>(targets.size());
  const int64_t nQ = static_cast<int64_t>(pairs.size());
  switch (b.stage) {
    case StageKind::Baseline:
      return b.concept_id * P + b.prompt0 + i;
    case StageKind::Lens:
      return (b.concept_id * P + b.prompt0 + i) * nK + b.lens;
    case StageKind::Interventions:
      return ((b.technique * nQ + b.pair) * P + b.prompt0) * J + b.target0 + i;
  }
  return 0;
}

int64_t Plan::group_index(int64_t mean_index) const {
  const bool heads = mean_sites[mean_index].is_head();
  int64_t g = 0;
  for (int64_t m = 0; m < mean_index; ++m) g += mean_sites[m].is_head() == heads;
  return g;
}

int64_t Plan::group_size(bool heads) const {
  return std::count_if(mean_sites.begin(), mean_sites.end(),
                       [&](const mg::HookSite& s) { return s.is_head() == heads; });
}

StoreLayout Plan::layout() const {
  StoreLayout l;
  using U = uint64_t;
  const U c = C, p = P, k = K, t = frames, n = classes;
  const U nk = lens_ks.size(), nt = techniques.size(), nq = pairs.size(), j = targets.size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto add = [&](const std::string& path, ElemType type, std::vector<U> shape, double fill,
                 const std::string& doc) {
    l.datasets.push_back(DatasetSpec{path, type, std::move(shape), fill, doc, {}});
  };
  add("/baseline/done", ElemType::U8, {c, p}, 0, "1 where baseline (concept_id, prompt) is stored");
  add("/baseline/codes", ElemType::I16, {c, p, k, t}, 0,
      "codes [concept_id, prompt, codebook, frame]");
  add("/baseline/logits", ElemType::F32, {c, p, n}, nan, "classifier logits");
  add("/baseline/ndcg", ElemType::F64, {c, p}, nan, "NDCG of the concept_id's relevant labels");
  add("/baseline/checksum", ElemType::I64, {c, p}, kNoChecksum, kChecksumDoc);
  if (spec.baseline.self_similarity) {
    add("/baseline/self_similarity", ElemType::F64, {c, U(L), U(L)}, nan,
        "mean over prompts of ||avg_t out_i - avg_t out_j||, out_i = layers.{i}.out");
    add("/baseline/self_similarity_checksum", ElemType::I64, {c}, kNoChecksum, kChecksumDoc);
  }
  if (!mean_sites.empty()) {
    const U nb = group_size(false), nh = group_size(true), s = steps;
    if (nb) {
      add("/means/blocks", ElemType::F32, {c, nb, s, U(H)}, nan,
          "per-step mean over a concept_id's prompts (conditional rows) [concept_id, site, step, "
          "H]");
      add("/means/blocks_frame_avg", ElemType::F32, {c, nb, U(H)}, nan, "mean over steps");
    }
    if (nh) {
      add("/means/heads", ElemType::F32, {c, nh, s, U(head_dim)}, nan, "per-head sites");
      add("/means/heads_frame_avg", ElemType::F32, {c, nh, U(head_dim)}, nan, "mean over steps");
    }
    add("/means/done", ElemType::U8, {c}, 0, "1 where the concept_id's means are stored");
    add("/means/checksum", ElemType::I64, {c}, kNoChecksum, kChecksumDoc);
    std::vector<std::string> names;
    for (const auto& m : mean_sites) names.push_back(m.name());
    l.string_datasets.push_back({"/means/sites", names});
  }
  if (nk) {
    add("/lens/done", ElemType::U8, {c, p, nk}, 0, "[concept_id, prompt, k index]");
    add("/lens/codes", ElemType::I16, {c, p, nk, k, t}, 0, "");
    add("/lens/logits", ElemType::F32, {c, p, nk, n}, nan, "");
    add("/lens/ndcg", ElemType::F64, {c, p, nk}, nan, "");
    add("/lens/checksum", ElemType::I64, {c, p, nk}, kNoChecksum, kChecksumDoc);
    std::vector<uint8_t> ks;
    for (int64_t v : lens_ks) {
      const auto* b = reinterpret_cast<const uint8_t*>(&v);
      ks.insert(ks.end(), b, b + sizeof(v));
    }
    l.datasets.push_back(DatasetSpec{"/lens/k", ElemType::I64, {nk}, 0, "layers kept", ks});
  }
  if (nt && nq && j) {
    const std::vector<U> ax = {nt, nq, p, j};
    auto with = [&](std::vector<U> extra) {
      std::vector<U> s = ax;
      s.insert(s.end(), extra.begin(), extra.end());
      return s;
    };
    add("/interventions/done", ElemType::U8, ax, 0, "[technique, pair, prompt, target]");
    add("/interventions/effect", ElemType::F64, ax, nan, "log-odds effect (eq. 1)");
    add("/interventions/effect_original", ElemType::F64, ax, nan, "log(p_a,before / p_a,after)");
    add("/interventions/effect_desired", ElemType::F64, ax, nan, "log(p_b,after / p_b,before)");
    add("/interventions/precision", ElemType::F64, ax, nan, kPrecisionDoc);
    add("/interventions/ideal_precision", ElemType::F64, {nq, p}, nan, kIdealPrecisionDoc);
    add("/interventions/status", ElemType::U8, ax, 0, "metrics status (0 ok)");
    add("/interventions/logits", ElemType::F32, with({n}), nan, "");
    add("/interventions/codes", ElemType::I16, with({k, t}), 0, "");
    add("/interventions/checksum", ElemType::I64, ax, kNoChecksum, kChecksumDoc);
    std::vector<int64_t> pr;
    for (const auto& q : pairs) pr.insert(pr.end(), {q.first, q.second});
    std::vector<uint8_t> bytes(reinterpret_cast<const uint8_t*>(pr.data()),
                               reinterpret_cast<const uint8_t*>(pr.data() + pr.size()));
    l.datasets.push_back(DatasetSpec{
        "/interventions/pairs", ElemType::I64, {nq, 2}, 0, "(original, desired)", bytes});
    std::vector<std::string> tn, tq;
    for (const auto& x : targets) tn.push_back(x.name());
    for (auto op : techniques) tq.push_back(mg::op_name(op));
    l.string_datasets.push_back({"/interventions/targets", tn});
    l.string_datasets.push_back({"/interventions/techniques", tq});
    if (spec.extremes.enabled) {
      const U e = static_cast<U>(spec.extremes.top_k);
      add("/extremes/top", ElemType::I64, {nt, nq, p, e}, -1, "targets with the largest effect");
      add("/extremes/bottom", ElemType::I64, {nt, nq, p, e}, -1,
          "targets with the smallest effect");
      add("/extremes/done", ElemType::U8, {1}, 0, "");
    }
  }
  std::vector<std::string> flat, concepts;
  for (const auto& v : prompts) flat.insert(flat.end(), v.begin(), v.end());
  for (const auto& cs : spec.concepts) concepts.push_back(cs.name);
  l.string_datasets.push_back({"/prompts", flat});
  l.string_datasets.push_back({"/concepts", concepts});
  add("/meta/stage_seconds", ElemType::F64, {3}, 0, "compute seconds per stage (all ranks)");
  add("/meta/stage_items", ElemType::I64, {3}, 0, "items computed per stage by this store's runs");
  l.attributes["spec_toml"] = spec.to_toml();
  l.attributes["spec_hash"] = spec.result_hash();
  l.attributes["schema"] = kStoreSchema;
  return l;
}

}  // namespace mg::sweep
