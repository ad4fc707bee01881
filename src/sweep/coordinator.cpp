#include "sweep/coordinator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <numeric>
#include <thread>

#include "classify/metrics.h"
#include "musicgen/hooks.h"
#include "sweep/item_checksum.h"

namespace mg::sweep {

std::atomic<bool> g_stop_requested{false};
std::atomic<bool> g_stop_for_error{false};

namespace {
extern "C" void on_stop_signal(int sig) {
  // A second Ctrl-C means "now": die as SIGINT does (the journal keeps what was put).
  if (sig == SIGINT && g_stop_requested.load()) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
    return;
  }
  g_stop_requested.store(true);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<int32_t> relevant_of(const ConceptSpec& c) {
  return std::vector<int32_t>(c.relevant.begin(), c.relevant.end());
}
}  // namespace

void install_stop_handlers(bool coordinator) {
  // srun/mpirun deliver the signal to every rank. Only the coordinator acts on it:
  // it finishes the batches in hand, checkpoints and tells the workers to stop, so
  // workers ignore it instead of dying with their batch (which would abort the job).
  const auto handler = coordinator ? on_stop_signal : SIG_IGN;
  std::signal(SIGTERM, handler);
  std::signal(SIGUSR1, handler);
  std::signal(SIGINT, handler);
}

Coordinator::Coordinator(const Plan& plan, Store& store, CoordinatorLink& link,
                         std::vector<std::string> hosts)
    : plan_(plan), store_(store), link_(link), hosts_(std::move(hosts)) {
  outstanding_.assign(static_cast<size_t>(link.workers()), -1);
  stopped_.assign(static_cast<size_t>(link.workers()), false);
  assigned_at_.assign(static_cast<size_t>(link.workers()), 0.0);
  last_heard_.assign(static_cast<size_t>(link.workers()), 0.0);
  stalled_.assign(static_cast<size_t>(link.workers()), false);
  worker_means_.resize(static_cast<size_t>(link.workers()));
  concept_.resize(static_cast<size_t>(plan.C));
  means_ready_.assign(static_cast<size_t>(plan.C), false);
  baseline_logits_.assign(static_cast<size_t>(plan.C * plan.P * plan.classes), NAN);
  for (int s = 0; s < 3; ++s) items_total_[s] = plan.items(static_cast<StageKind>(s));
  load_progress();
}

size_t Coordinator::site_offset(int64_t mean_index) const {
  size_t off = 0;
  for (int64_t m = 0; m < mean_index; ++m)
    off += static_cast<size_t>(plan_.steps * plan_.width(plan_.mean_sites[m]));
  return off;
}

bool Coordinator::batch_done_in_store(const Batch& b) const {
  using I = Store::Index;
  const uint64_t n = static_cast<uint64_t>(b.count);
  std::vector<uint8_t> done;
  switch (b.stage) {
    case StageKind::Baseline:
      done = store_.read_values<uint8_t>("/baseline/done",
                                         I{uint64_t(b.concept_id), uint64_t(b.prompt0)}, I{1, n});
      break;
    case StageKind::Lens:
      done = store_.read_values<uint8_t>(
          "/lens/done", I{uint64_t(b.concept_id), uint64_t(b.prompt0), uint64_t(b.lens)},
          I{1, n, 1});
      break;
    case StageKind::Interventions:
      done = store_.read_values<uint8_t>(
          "/interventions/done",
          I{uint64_t(b.technique), uint64_t(b.pair), uint64_t(b.prompt0), uint64_t(b.target0)},
          I{1, 1, 1, n});
      break;
  }
  return std::all_of(done.begin(), done.end(), [](uint8_t v) { return v != 0; });
}

void Coordinator::load_progress() {
  batch_done_.assign(plan_.batches.size(), 0);
  // Items whose stored bytes no longer match their checksum are computed again (a batch
  // with one is pending), so a damaged store heals on resume instead of serving them.
  const StoreIntegrity integrity = check_store_items(store_);
  print_damaged(integrity, "run: ");
  for (size_t i = 0; i < plan_.batches.size(); ++i) {
    const Batch& b = plan_.batches[i];
    if (batch_done_in_store(b) && batch_intact(integrity, plan_, b)) {
      batch_done_[i] = 1;
      items_done_[static_cast<int>(b.stage)] += b.count;
    } else if (b.stage == StageKind::Baseline) {
      ++concept_[static_cast<size_t>(b.concept_id)].batches_left;
    }
  }
  auto st = store_.read_all<double>("/meta/stage_seconds");
  auto si = store_.read_all<int64_t>("/meta/stage_items");
  for (int s = 0; s < 3; ++s) {
    stage_seconds_[s] = st[s];
    stage_items_[s] = si[s];
  }
  for (int64_t c = 0; c < plan_.C; ++c)
    if (concept_[c].batches_left == 0) load_concept(c);
}

void Coordinator::load_concept(int64_t c) {
  using I = Store::Index;
  const uint64_t P = plan_.P, N = plan_.classes;
  auto logits = store_.read_values<float>("/baseline/logits", I{uint64_t(c), 0, 0}, I{1, P, N});
  std::copy(logits.begin(), logits.end(), baseline_logits_.begin() + c * plan_.P * plan_.classes);
  const bool per_step = plan_.spec.baseline.per_step_means;
  for (int64_t m = 0; m < static_cast<int64_t>(plan_.mean_sites.size()); ++m) {
    const bool heads = plan_.mean_sites[m].is_head();
    const uint64_t g = plan_.group_index(m), w = plan_.width(plan_.mean_sites[m]);
    const std::string base = heads ? "/means/heads" : "/means/blocks";
    means_[{c, m}] =
        per_step ? store_.read_values<float>(base, I{uint64_t(c), g, 0, 0},
                                             I{1, 1, uint64_t(plan_.steps), w})
                 : store_.read_values<float>(base + "_frame_avg", I{uint64_t(c), g, 0}, I{1, 1, w});
  }
  means_ready_[c] = true;
}

bool Coordinator::eligible(const Batch& b) const {
  if (b.stage != StageKind::Interventions) return true;
  const auto [a, d] = plan_.pairs[b.pair];
  return means_ready_[a] && means_ready_[d];
}

int64_t Coordinator::next_batch() {
  // Batches taken back from stalled workers first (they were eligible when first sent).
  while (!retry_.empty()) {
    const int64_t b = retry_.front();
    retry_.pop_front();
    if (!batch_done_[b]) return b;
  }
  // Batches are dispatched in plan order; a batch whose means are not ready
  // blocks the cursor (only the tail of the baselines can be in flight then).
  while (cursor_ < plan_.batches.size()) {
    const size_t i = cursor_;
    if (batch_done_[i]) {
      ++cursor_;
      continue;
    }
    if (!eligible(plan_.batches[i])) return -1;
    ++cursor_;
    return static_cast<int64_t>(i);
  }
  return -1;
}

void Coordinator::assign(int w) {
  const bool draining = g_stop_requested.load();
  const int64_t b = draining ? -1 : next_batch();
  if (b < 0) {
    const bool work_left = !draining && (cursor_ < plan_.batches.size() || !retry_.empty() ||
                                         std::any_of(outstanding_.begin(), outstanding_.end(),
                                                     [](int64_t o) { return o >= 0; }));
    if (work_left) {
      link_.send(w, Tag::Wait, {});
    } else {
      link_.send(w, Tag::Stop, {});
      stopped_[w] = true;
    }
    return;
  }
  const Batch& batch = plan_.batches[b];
  Task task;
  task.batch = b;
  if (batch.stage == StageKind::Interventions) {
    const auto [a, d] = plan_.pairs[batch.pair];
    const bool adjust = plan_.techniques[batch.technique] == mg::InterventionOp::Adjust;
    for (int64_t i = 0; i < batch.count; ++i) {
      const int64_t m = plan_.targets[batch.target0 + i].mean_index;
      for (int64_t c : {d, a}) {
        if (c == a && !adjust) continue;
        if (!worker_means_[w].insert({c, m}).second) continue;
        const auto& v = means_.at({c, m});
        const int64_t width = plan_.width(plan_.mean_sites[m]);
        task.means.push_back(MeanBlock{c, m, static_cast<int64_t>(v.size()) / width, v});
      }
    }
  }
  outstanding_[w] = b;
  assigned_at_[w] = now_s();
  std::vector<uint8_t> bytes = encode_task(task);
  bytes_out_ += bytes.size();
  link_.send(w, Tag::Task, std::move(bytes));
}

void Coordinator::ingest(int w, const BatchResult& r) {
  // A worker taken for stalled may still answer: its result is for the batch it was given
  // (r.batch), which another worker may have finished meanwhile. Results are deterministic,
  // so whichever copy arrives first is kept and the other dropped (twice would double a
  // concept's sums).
  const int64_t bi = outstanding_[w] >= 0 ? outstanding_[w] : r.batch;
  if (outstanding_[w] >= 0) longest_batch_ = std::max(longest_batch_, now_s() - assigned_at_[w]);
  outstanding_[w] = -1;
  if (bi < 0 || bi >= static_cast<int64_t>(plan_.batches.size()) || batch_done_[bi]) return;
  const Batch& b = plan_.batches[bi];
  const int s = static_cast<int>(b.stage);
  stage_seconds_[s] += r.seconds;
  stage_items_[s] += b.count;
  items_this_run_[s] += b.count;
  switch (b.stage) {
    case StageKind::Baseline:
      ingest_baseline(b, r);
      break;
    case StageKind::Lens:
      ingest_lens(b, r);
      break;
    case StageKind::Interventions:
      ingest_interventions(b, r);
      break;
  }
  batch_done_[bi] = 1;
  if (b.stage != StageKind::Baseline) items_done_[s] += b.count;
  // A finished stage is checkpointed at once, whatever the interval.
  if (items_done_[s] == items_total_[s]) checkpoint();
}

void Coordinator::ingest_baseline(const Batch& b, const BatchResult& r) {
  ConceptBaseline& cb = concept_[b.concept_id];
  const size_t KT = static_cast<size_t>(plan_.K * plan_.frames), N = plan_.classes;
  const size_t LL = static_cast<size_t>(plan_.L * plan_.L);
  if (cb.codes.empty()) {
    cb.codes.assign(plan_.P * KT, 0);
    cb.logits.assign(plan_.P * N, NAN);
    cb.self_distance.assign(plan_.P * LL, NAN);
    cb.sums.assign(site_offset(static_cast<int64_t>(plan_.mean_sites.size())), 0);
  }
  std::copy(r.codes.begin(), r.codes.end(), cb.codes.begin() + b.prompt0 * KT);
  std::copy(r.logits.begin(), r.logits.end(), cb.logits.begin() + b.prompt0 * N);
  if (!r.self_distance.empty())
    std::copy(r.self_distance.begin(), r.self_distance.end(),
              cb.self_distance.begin() + b.prompt0 * LL);
  // Integer sums: exact, so the order batches arrive in does not matter.
  for (size_t i = 0; i < r.mean_sums.size(); ++i) cb.sums[i] += r.mean_sums[i];
  if (--cb.batches_left == 0) finalize_concept(b.concept_id);
}

void Coordinator::finalize_concept(int64_t c) {
  using I = Store::Index;
  ConceptBaseline& cb = concept_[c];
  const uint64_t P = plan_.P, N = plan_.classes, uc = c;
  const ConceptSpec& cs = plan_.spec.concepts[c];
  // Means: per step, then over steps, in float64; stored and used as float32.
  const double scale = 1.0 / (mg::kFixedPointScale * static_cast<double>(plan_.P));
  // The concept's rows of /means/{blocks,blocks_frame_avg,heads,heads_frame_avg}, in that
  // order and each in group order, for the concept's means checksum.
  std::vector<std::vector<float>> rows[4];  // [blocks, blocks_frame_avg, heads, heads_avg][g]
  for (int x = 0; x < 4; ++x) rows[x].resize(static_cast<size_t>(plan_.group_size(x >= 2)));
  for (int64_t m = 0; m < static_cast<int64_t>(plan_.mean_sites.size()); ++m) {
    const int64_t w = plan_.width(plan_.mean_sites[m]), S = plan_.steps;
    const int64_t* src = cb.sums.data() + site_offset(m);
    std::vector<float> per_step(static_cast<size_t>(S * w));
    std::vector<double> avg(static_cast<size_t>(w), 0.0);
    for (int64_t s = 0; s < S; ++s)
      for (int64_t x = 0; x < w; ++x) {
        const double v = static_cast<double>(src[s * w + x]) * scale;
        per_step[s * w + x] = static_cast<float>(v);
        avg[x] += v;
      }
    std::vector<float> avg32(avg.size());
    for (size_t x = 0; x < avg.size(); ++x) avg32[x] = static_cast<float>(avg[x] / S);
    const bool heads = plan_.mean_sites[m].is_head();
    const uint64_t g = plan_.group_index(m);
    const std::string base = heads ? "/means/heads" : "/means/blocks";
    store_.put(base, I{uc, g, 0, 0}, I{1, 1, uint64_t(S), uint64_t(w)}, per_step);
    store_.put(base + "_frame_avg", I{uc, g, 0}, I{1, 1, uint64_t(w)}, avg32);
    rows[heads ? 2 : 0][g] = per_step;
    rows[heads ? 3 : 1][g] = avg32;
    means_[{c, m}] = plan_.spec.baseline.per_step_means ? per_step : avg32;
  }
  if (plan_.spec.baseline.self_similarity) {
    // Mean over prompts, summed in prompt order.
    const size_t LL = static_cast<size_t>(plan_.L * plan_.L);
    std::vector<double> mean(LL, 0.0);
    for (int64_t p = 0; p < plan_.P; ++p)
      for (size_t i = 0; i < LL; ++i) mean[i] += cb.self_distance[p * LL + i];
    for (double& v : mean) v /= static_cast<double>(plan_.P);
    store_.put("/baseline/self_similarity", I{uc, 0, 0}, I{1, uint64_t(plan_.L), uint64_t(plan_.L)},
               mean);
    store_.put("/baseline/self_similarity_checksum", I{uc}, I{1},
               std::vector<int64_t>{ItemCrc().add(mean.data(), mean.size()).value()});
  }
  std::vector<double> ndcg(P);
  const auto rel = relevant_of(cs);
  for (uint64_t p = 0; p < P; ++p)
    ndcg[p] = mg::metrics::ndcg(cb.logits.data() + p * N, N, rel.data(), rel.size()).value;
  store_.put("/baseline/codes", I{uc, 0, 0, 0}, I{1, P, uint64_t(plan_.K), uint64_t(plan_.frames)},
             cb.codes);
  store_.put("/baseline/logits", I{uc, 0, 0}, I{1, P, N}, cb.logits);
  store_.put("/baseline/ndcg", I{uc, 0}, I{1, P}, ndcg);
  // Checksums (item_checksum.h) go into the journal with the values, before the done flags.
  store_.put("/baseline/checksum", I{uc, 0}, I{1, P},
             result_checksums(cb.codes.data(), plan_.K * plan_.frames, cb.logits.data(), N,
                              ndcg.data(), P));
  if (!plan_.mean_sites.empty()) {
    ItemCrc means_crc;
    for (const auto& group : rows)
      for (const auto& row : group) means_crc.add(row.data(), row.size());
    store_.put("/means/checksum", I{uc}, I{1}, std::vector<int64_t>{means_crc.value()});
  }
  store_.put("/baseline/done", I{uc, 0}, I{1, P}, std::vector<uint8_t>(P, 1));
  if (!plan_.mean_sites.empty()) store_.put("/means/done", I{uc}, I{1}, std::vector<uint8_t>{1});
  std::copy(cb.logits.begin(), cb.logits.end(), baseline_logits_.begin() + c * P * N);
  means_ready_[c] = true;
  items_done_[0] += plan_.P;
  cb = ConceptBaseline{};
}

void Coordinator::ingest_lens(const Batch& b, const BatchResult& r) {
  using I = Store::Index;
  const uint64_t n = b.count, N = plan_.classes;
  const I off{uint64_t(b.concept_id), uint64_t(b.prompt0), uint64_t(b.lens)};
  const auto rel = relevant_of(plan_.spec.concepts[b.concept_id]);
  std::vector<double> ndcg(n);
  for (uint64_t i = 0; i < n; ++i)
    ndcg[i] = mg::metrics::ndcg(r.logits.data() + i * N, N, rel.data(), rel.size()).value;
  store_.put("/lens/codes", I{off[0], off[1], off[2], 0, 0},
             I{1, n, 1, uint64_t(plan_.K), uint64_t(plan_.frames)}, r.codes);
  store_.put("/lens/logits", I{off[0], off[1], off[2], 0}, I{1, n, 1, N}, r.logits);
  store_.put("/lens/ndcg", off, I{1, n, 1}, ndcg);
  store_.put(
      "/lens/checksum", off, I{1, n, 1},
      result_checksums(r.codes.data(), plan_.K * plan_.frames, r.logits.data(), N, ndcg.data(), n));
  store_.put("/lens/done", off, I{1, n, 1}, std::vector<uint8_t>(n, 1));
}

void Coordinator::ingest_interventions(const Batch& b, const BatchResult& r) {
  using I = Store::Index;
  const uint64_t n = b.count, N = plan_.classes;
  const auto [a, d] = plan_.pairs[b.pair];
  const float* before = baseline_logits_.data() + (a * plan_.P + b.prompt0) * plan_.classes;
  std::vector<mg::metrics::EffectScore> sc(n);
  mg::metrics::effect_scores(before, r.logits.data(), n, N,
                             static_cast<size_t>(plan_.spec.concepts[a].label),
                             static_cast<size_t>(plan_.spec.concepts[d].label), sc.data());
  std::vector<double> effect(n), orig(n), des(n), prec(n);
  std::vector<uint8_t> status(n);
  for (uint64_t i = 0; i < n; ++i) {
    effect[i] = sc[i].effect;
    orig[i] = sc[i].original;
    des[i] = sc[i].desired;
    prec[i] = sc[i].precision;
    status[i] = static_cast<uint8_t>(sc[i].status);
  }
  const I off{uint64_t(b.technique), uint64_t(b.pair), uint64_t(b.prompt0), uint64_t(b.target0)};
  const I cnt{1, 1, 1, n};
  store_.put("/interventions/effect", off, cnt, effect);
  store_.put("/interventions/effect_original", off, cnt, orig);
  store_.put("/interventions/effect_desired", off, cnt, des);
  store_.put("/interventions/precision", off, cnt, prec);
  store_.put("/interventions/status", off, cnt, status);
  // A property of the pair and the baseline alone: written once per (pair, prompt), by the
  // batch of the first technique that holds the first target (every item's checksum has it).
  const double ideal =
      mg::metrics::ideal_precision(before, N, static_cast<size_t>(plan_.spec.concepts[a].label),
                                   static_cast<size_t>(plan_.spec.concepts[d].label));
  if (b.technique == 0 && b.target0 == 0) {
    store_.put("/interventions/ideal_precision", I{off[1], off[2]}, I{1, 1},
               std::vector<double>{ideal});
  }
  store_.put("/interventions/logits", I{off[0], off[1], off[2], off[3], 0}, I{1, 1, 1, n, N},
             r.logits);
  store_.put("/interventions/codes", I{off[0], off[1], off[2], off[3], 0, 0},
             I{1, 1, 1, n, uint64_t(plan_.K), uint64_t(plan_.frames)}, r.codes);
  const InterventionScores scores{effect.data(), orig.data(),   des.data(),
                                  prec.data(),   status.data(), ideal};
  store_.put("/interventions/checksum", off, cnt,
             intervention_checksums(scores, r.logits.data(), N, r.codes.data(),
                                    plan_.K * plan_.frames, n));
  store_.put("/interventions/done", off, cnt, std::vector<uint8_t>(n, 1));
}

void Coordinator::write_extremes() {
  if (!plan_.spec.extremes.enabled || plan_.targets.empty() || plan_.pairs.empty()) return;
  if (store_.read_all<uint8_t>("/extremes/done")[0]) return;
  const int64_t J = static_cast<int64_t>(plan_.targets.size());
  const int64_t e = std::min<int64_t>(plan_.spec.extremes.top_k, J);
  const int64_t E = plan_.spec.extremes.top_k;
  const auto effect = store_.read_all<double>("/interventions/effect");
  const int64_t groups = static_cast<int64_t>(effect.size()) / J;
  std::vector<int64_t> top(groups * E, -1), bottom(groups * E, -1);
  for (int64_t g = 0; g < groups; ++g) {
    std::vector<int64_t> idx(J);
    std::iota(idx.begin(), idx.end(), 0);
    const double* v = effect.data() + g * J;
    // Largest first; NaN (unscorable) last; ties by target index.
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t x, int64_t y) {
      if (std::isnan(v[x]) != std::isnan(v[y])) return std::isnan(v[y]);
      return v[x] > v[y];
    });
    std::copy(idx.begin(), idx.begin() + e, top.begin() + g * E);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t x, int64_t y) {
      if (std::isnan(v[x]) != std::isnan(v[y])) return std::isnan(v[y]);
      return v[x] < v[y];
    });
    std::copy(idx.begin(), idx.begin() + e, bottom.begin() + g * E);
  }
  const auto shape = store_.shape("/extremes/top");
  store_.put("/extremes/top", Store::Index(4, 0), shape, top);
  store_.put("/extremes/bottom", Store::Index(4, 0), shape, bottom);
  store_.put("/extremes/done", Store::Index{0}, Store::Index{1}, std::vector<uint8_t>{1});
}

void Coordinator::checkpoint() {
  store_.put("/meta/stage_seconds", Store::Index{0}, Store::Index{3},
             std::vector<double>(stage_seconds_, stage_seconds_ + 3));
  store_.put("/meta/stage_items", Store::Index{0}, Store::Index{3},
             std::vector<int64_t>(stage_items_, stage_items_ + 3));
  store_.checkpoint();
  last_checkpoint_ = now_s();
}

void Coordinator::progress(bool force) {
  const double t = now_s();
  if (!force && t - last_progress_ < 5.0) return;
  last_progress_ = t;
  std::string line;
  for (int s = 0; s < 3; ++s) {
    if (items_total_[s] == 0) continue;
    const double rate = items_this_run_[s] / std::max(1e-9, t - start_);
    const int64_t left = items_total_[s] - items_done_[s];
    char buf[200];
    std::snprintf(buf, sizeof buf, "%s%s %lld/%lld (%.2f items/s, ETA %s)",
                  line.empty() ? "" : " | ", stage_name(static_cast<StageKind>(s)),
                  static_cast<long long>(items_done_[s]), static_cast<long long>(items_total_[s]),
                  rate,
                  left == 0  ? "done"
                  : rate > 0 ? (std::to_string(static_cast<long long>(left / rate)) + "s").c_str()
                             : "?");
    line += buf;
  }
  std::fprintf(stderr, "run: %s\n", line.c_str());
}

std::string Coordinator::worker_name(int w) const {
  std::string s = "rank " + std::to_string(w);
  if (w < static_cast<int>(hosts_.size()) && !hosts_[w].empty()) s += " on " + hosts_[w];
  return s;
}

double Coordinator::stall_bound() const {
  if (plan_.spec.stall_seconds > 0) return plan_.spec.stall_seconds;
  // Derived: ten times the longest batch seen (a batch's time varies with the stage and the
  // load of the node, not tenfold), at least a minute; half an hour until one is measured
  // (the first batch of a rank includes its warm-up).
  return longest_batch_ > 0 ? std::max(60.0, 10.0 * longest_batch_) : 1800.0;
}

void Coordinator::check_stalls() {
  // A working worker is heard from when its batch is done, an idle one every few ms (it is
  // told to wait and asks again): silence past the bound is a stall either way.
  const double t = now_s(), bound = stall_bound();
  for (int w = 0; w < link_.workers(); ++w) {
    if (stalled_[w] || stopped_[w] || t - last_heard_[w] <= bound) continue;
    stalled_[w] = true;
    const int64_t b = outstanding_[w];
    outstanding_[w] = -1;
    std::string what = "it held no batch";
    if (b >= 0) {
      retry_.push_back(b);
      what = "its batch " + std::to_string(b) + " goes to another rank";
    }
    std::fprintf(stderr,
                 "run: %s has not answered for %.0f s (stall bound %.0f s, job key "
                 "stall_seconds): %s\n",
                 worker_name(w).c_str(), t - last_heard_[w], bound, what.c_str());
  }
}

std::vector<int> Coordinator::stalled_workers() const {
  std::vector<int> v;
  for (int w = 0; w < link_.workers(); ++w)
    if (stalled_[w]) v.push_back(w);
  return v;
}

int Coordinator::run() {
  start_ = last_checkpoint_ = last_progress_ = now_s();
  std::fill(last_heard_.begin(), last_heard_.end(), start_);
  const double every = plan_.spec.checkpoint_seconds;
  // Workers still expected to ask for work: neither stopped nor stalled.
  auto active = [&] {
    int n = 0;
    for (int w = 0; w < link_.workers(); ++w) n += !stopped_[w] && !stalled_[w];
    return n;
  };
  Message m;
  while (active() > 0) {
    bool any = false;
    while (link_.poll(&m)) {
      any = true;
      bytes_in_ += m.data.size();
      last_heard_[m.peer] = now_s();
      if (stalled_[m.peer]) {
        stalled_[m.peer] = false;
        std::fprintf(stderr, "run: %s answered again\n", worker_name(m.peer).c_str());
      }
      if (!m.data.empty()) ingest(m.peer, decode_result(m.data));
      assign(m.peer);
    }
    check_stalls();
    if (now_s() - last_checkpoint_ > every) checkpoint();
    progress(false);
    if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const bool stopped = g_stop_requested.load();
  const bool complete =
      std::all_of(batch_done_.begin(), batch_done_.end(), [](uint8_t v) { return v; });
  if (complete) {
    checkpoint();  // the extremes read what the interventions wrote
    write_extremes();
  }
  checkpoint();
  progress(true);
  const double elapsed = now_s() - start_;
  const int64_t items = items_this_run_[0] + items_this_run_[1] + items_this_run_[2];
  std::fprintf(stderr,
               "run: %lld items in %.1f s on %d workers (%.1f items/s); %.0f bytes in, %.0f "
               "bytes out per item\n",
               static_cast<long long>(items), elapsed, link_.workers(),
               items / std::max(elapsed, 1e-9), items ? double(bytes_in_) / items : 0.0,
               items ? double(bytes_out_) / items : 0.0);
  const std::vector<int> stalled = stalled_workers();
  if (!stalled.empty()) {
    std::string who;
    for (int w : stalled) who += (who.empty() ? "" : ", ") + worker_name(w);
    std::fprintf(stderr,
                 "run: stalled: %s never answered again; %s checkpointed -- exiting with %d so "
                 "that the job is requeued (run the same command to resume)\n",
                 who.c_str(), complete ? "the store is complete and" : "what was done is",
                 kExitPreempted);
    return kExitPreempted;
  }
  if (!complete && stopped && g_stop_for_error.load()) {
    std::fprintf(stderr, "run: stopped after an error; what was done is checkpointed\n");
    return 1;
  }
  if (!complete && stopped) {
    std::fprintf(stderr,
                 "run: stopped by signal; checkpointed -- run the same command to resume\n");
    return kExitPreempted;
  }
  return complete ? 0 : 1;
}

}  // namespace mg::sweep
