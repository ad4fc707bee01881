#include "sweep/item_checksum.h"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "sweep/store_edit.h"

namespace mg::sweep {

namespace {

constexpr const char* kIdeal = "/interventions/ideal_precision";

// One kind of checksummed item: where its checksum and done flags are, and the values it
// covers in checksum order (item_checksum.h).
struct StageDef {
  std::string name, checksum, done;  // done empty: self-similarity (from /baseline/done)
  std::vector<std::string> values;
};

std::vector<StageDef> stage_defs(const Store& s) {
  std::vector<StageDef> out;
  auto have = [&](const std::string& d) { return s.has_dataset(d); };
  if (have("/baseline/done"))
    out.push_back({"baseline",
                   "/baseline/checksum",
                   "/baseline/done",
                   {"/baseline/codes", "/baseline/logits", "/baseline/ndcg"}});
  if (have("/lens/done"))
    out.push_back(
        {"lens", "/lens/checksum", "/lens/done", {"/lens/codes", "/lens/logits", "/lens/ndcg"}});
  if (have("/interventions/done"))
    out.push_back(
        {"interventions",
         "/interventions/checksum",
         "/interventions/done",
         {"/interventions/effect", "/interventions/effect_original",
          "/interventions/effect_desired", "/interventions/precision", "/interventions/status",
          kIdeal, "/interventions/logits", "/interventions/codes"}});
  if (have("/means/done")) {
    StageDef m{"means", "/means/checksum", "/means/done", {}};
    for (const char* v :
         {"/means/blocks", "/means/blocks_frame_avg", "/means/heads", "/means/heads_frame_avg"})
      if (have(v)) m.values.push_back(v);
    out.push_back(m);
  }
  if (have("/baseline/self_similarity") && have("/baseline/done"))
    out.push_back({"self_similarity",
                   "/baseline/self_similarity_checksum",
                   "",
                   {"/baseline/self_similarity"}});
  return out;
}

// The stage's done flags, flat, and the shape of its item axes.
std::vector<uint8_t> done_of(const Store& s, const StageDef& st, std::vector<uint64_t>* shape) {
  if (!st.done.empty()) {
    *shape = s.shape(st.done);
    return s.read_all<uint8_t>(st.done);
  }
  const auto bshape = s.shape("/baseline/done");  // [C, P]
  const auto b = s.read_all<uint8_t>("/baseline/done");
  *shape = {bshape[0]};
  std::vector<uint8_t> d(bshape[0], 1);
  for (uint64_t c = 0; c < bshape[0]; ++c)
    for (uint64_t p = 0; p < bshape[1]; ++p) d[c] = d[c] && b[c * bshape[1] + p];
  return d;
}

using ItemFn = std::function<void(uint64_t flat, const std::vector<uint64_t>& index, int64_t crc)>;

// Calls fn with the checksum of every done item, computed from the stored values. Reads one
// row of items along the last item axis at a time (an intervention row is J items), so that
// the store's gigabytes of logits are never in memory at once.
void for_each_done_item(const Store& s, const StageDef& st, const std::vector<uint8_t>& done,
                        const std::vector<uint64_t>& shape, const ItemFn& fn) {
  const size_t rank = shape.size();
  const uint64_t row = rank >= 2 ? shape.back() : 1;
  uint64_t rows = 1;
  for (uint64_t n : shape) rows *= n;
  rows /= row;
  std::vector<double> ideal;
  uint64_t ideal_p = 0;
  if (std::find(st.values.begin(), st.values.end(), kIdeal) != st.values.end()) {
    ideal = s.read_all<double>(kIdeal);
    ideal_p = s.shape(kIdeal)[1];
  }
  struct Slab {
    std::vector<uint8_t> bytes;
    size_t item_bytes = 0;
  };
  std::vector<Slab> slabs(st.values.size());
  std::vector<uint64_t> index(rank);
  for (uint64_t r = 0; r < rows; ++r) {
    const uint64_t first = r * row;
    if (std::none_of(done.begin() + first, done.begin() + first + row,
                     [](uint8_t v) { return v != 0; }))
      continue;
    uint64_t rest = first;  // the row's first item, unravelled
    for (size_t a = rank; a-- > 0;) index[a] = rest % shape[a], rest /= shape[a];
    for (size_t v = 0; v < st.values.size(); ++v) {
      if (st.values[v] == kIdeal) continue;
      const auto vs = s.shape(st.values[v]);
      std::vector<uint64_t> off(vs.size(), 0), cnt(vs.begin(), vs.end());
      for (size_t a = 0; a < rank; ++a) off[a] = index[a], cnt[a] = 1;
      cnt[rank - 1] = row;
      uint64_t n = 1;
      for (uint64_t c : cnt) n *= c;
      const size_t es = elem_size(s.type(st.values[v]));
      slabs[v].bytes.resize(n * es);
      slabs[v].item_bytes = n / row * es;
      s.read(st.values[v], off, cnt, slabs[v].bytes.data(), slabs[v].bytes.size());
    }
    for (uint64_t i = 0; i < row; ++i) {
      if (!done[first + i]) continue;
      index[rank - 1] = rank >= 2 ? i : index[rank - 1];
      ItemCrc crc;
      for (size_t v = 0; v < st.values.size(); ++v) {
        if (st.values[v] == kIdeal)
          crc.add(ideal[index[1] * ideal_p + index[2]]);  // [t, q, p, j] -> [q, p]
        else
          crc.add(slabs[v].bytes.data() + i * slabs[v].item_bytes, slabs[v].item_bytes);
      }
      fn(first + i, index, crc.value());
    }
  }
}

// Names of the items' axis labels, for messages.
struct Labels {
  std::vector<std::string> concepts, techniques, targets;
  std::vector<int64_t> pairs, ks;
  explicit Labels(const Store& s) {
    concepts = s.read_strings("/concepts");
    if (s.has_dataset("/interventions/pairs")) {
      techniques = s.read_strings("/interventions/techniques");
      targets = s.read_strings("/interventions/targets");
      pairs = s.read_all<int64_t>("/interventions/pairs");
    }
    if (s.has_dataset("/lens/k")) ks = s.read_all<int64_t>("/lens/k");
  }
  std::string concept_name(uint64_t c) const {
    return c < concepts.size() ? concepts[c] : std::to_string(c);
  }
  std::string of(const std::string& stage, const std::vector<uint64_t>& i) const {
    if (stage == "means" || stage == "self_similarity") return "concept=" + concept_name(i[0]);
    if (stage == "baseline")
      return "concept=" + concept_name(i[0]) + " prompt=" + std::to_string(i[1]);
    if (stage == "lens")
      return "concept=" + concept_name(i[0]) + " prompt=" + std::to_string(i[1]) +
             " k=" + (i[2] < ks.size() ? std::to_string(ks[i[2]]) : "?");
    return "technique=" + (i[0] < techniques.size() ? techniques[i[0]] : "?") +
           " pair=" + concept_name(pairs.at(2 * i[1])) + "->" +
           concept_name(pairs.at(2 * i[1] + 1)) + " prompt=" + std::to_string(i[2]) +
           " target=" + (i[3] < targets.size() ? targets[i[3]] : "?");
  }
};

}  // namespace

std::vector<int64_t> result_checksums(const int16_t* codes, size_t KT, const float* logits,
                                      size_t N, const double* ndcg, size_t n) {
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = ItemCrc().add(codes + i * KT, KT).add(logits + i * N, N).add(ndcg[i]).value();
  return out;
}

std::vector<int64_t> intervention_checksums(const InterventionScores& s, const float* logits,
                                            size_t N, const int16_t* codes, size_t KT, size_t n) {
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = ItemCrc()
                 .add(s.effect[i])
                 .add(s.original[i])
                 .add(s.desired[i])
                 .add(s.precision[i])
                 .add(s.status[i])
                 .add(s.ideal)
                 .add(logits + i * N, N)
                 .add(codes + i * KT, KT)
                 .value();
  return out;
}

void print_damaged(const StoreIntegrity& in, const char* prefix) {
  if (in.damaged.empty()) return;
  std::fprintf(stderr, "%s%zu damaged items (checksum mismatch) are computed again:\n", prefix,
               in.damaged.size());
  for (size_t i = 0; i < in.damaged.size() && i < 20; ++i)
    std::fprintf(stderr, "%s  %s %s\n", prefix, in.damaged[i].stage.c_str(),
                 in.damaged[i].label.c_str());
}

StoreIntegrity check_store_items(const Store& store) {
  StoreIntegrity out;
  out.has_checksums = store.has_dataset("/baseline/checksum");
  const Labels labels(store);
  for (const StageDef& st : stage_defs(store)) {
    if (!store.has_dataset(st.checksum)) continue;
    std::vector<uint64_t> shape;
    const auto done = done_of(store, st, &shape);
    const auto stored = store.read_all<int64_t>(st.checksum);
    std::vector<uint8_t> bad(done.size(), 0);
    for_each_done_item(
        store, st, done, shape,
        [&](uint64_t flat, const std::vector<uint64_t>& index, int64_t crc) {
          ++out.checked;
          if (stored[flat] == crc) return;
          bad[flat] = 1;
          out.damaged.push_back({st.name, index, labels.of(st.name, index), stored[flat], crc});
        });
    if (st.name == "baseline") out.baseline = bad;
    if (st.name == "lens") out.lens = bad;
    if (st.name == "interventions") out.interventions = bad;
    if (st.name == "means" || st.name == "self_similarity") {
      out.concept_damaged.resize(bad.size(), 0);
      for (size_t c = 0; c < bad.size(); ++c) out.concept_damaged[c] |= bad[c];
    }
  }
  return out;
}

bool batch_intact(const StoreIntegrity& in, const Plan& plan, const Batch& b) {
  auto any = [](const std::vector<uint8_t>& v, uint64_t from, uint64_t n) {
    return !v.empty() &&
           std::any_of(v.begin() + from, v.begin() + from + n, [](uint8_t x) { return x != 0; });
  };
  switch (b.stage) {
    case StageKind::Baseline:
      // A concept's baselines, means and self-similarity are written together (one
      // finalize_concept), so one damaged part makes the whole concept pending again.
      return !any(in.concept_damaged, b.concept_id, 1) &&
             !any(in.baseline, b.concept_id * plan.P, plan.P);
    case StageKind::Lens:
    case StageKind::Interventions: {
      const auto& v = b.stage == StageKind::Lens ? in.lens : in.interventions;
      if (v.empty()) return true;
      for (int64_t i = 0; i < b.count; ++i)
        if (v[plan.item_index(b, i)]) return false;
      return true;
    }
  }
  return true;
}

int64_t write_checksums(const Store& store, StoreEdit& out) {
  int64_t items = 0;
  for (const StageDef& st : stage_defs(store)) {
    std::vector<uint64_t> shape;
    const auto done = done_of(store, st, &shape);
    std::vector<int64_t> crc(done.size(), kNoChecksum);
    for_each_done_item(store, st, done, shape,
                       [&](uint64_t flat, const std::vector<uint64_t>&, int64_t c) {
                         crc[flat] = c;
                         ++items;
                       });
    if (!out.exists(st.checksum))
      out.dataset(st.checksum, ElemType::I64, shape, static_cast<double>(kNoChecksum),
                  kChecksumDoc);
    else
      out.open_dataset(st.checksum);
    out.write_all(st.checksum, crc.data());
  }
  return items;
}

}  // namespace mg::sweep
