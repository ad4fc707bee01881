#include "sweep/audio_export.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "musicgen/errors.h"
#include "musicgen/musicgen.h"
#include "musicgen/wav.h"
#include "sweep/store.h"
#include "sweep/store_job.h"

namespace mg::sweep {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// One WAV to write: the item (flat index into the leading axes) of a codes dataset, and its
// manifest entry (without "file", which is added from `rel`).
struct Wav {
  std::string codes;  // "/baseline/codes", "/lens/codes" or "/interventions/codes"
  int64_t item = 0;
  std::string rel;  // path relative to OUT
  json entry;
};

// What the export functions below share: the store and its axes.
struct Ctx {
  const Store& store;
  const Plan& plan;
  const std::vector<std::string>& concepts;
  std::vector<uint8_t> base_done;
  std::vector<Wav>* wavs;
  std::set<std::string> listed;  // baselines beside extremes already planned
};

std::string pair_dir(const Ctx& c, const std::string& technique, int64_t a, int64_t b) {
  return "extremes/" + file_safe(technique) + "/" + file_safe(c.concepts[a]) + "_to_" +
         file_safe(c.concepts[b]);
}

// The baseline of prompt p of concept a in an extremes folder, once (when it is done).
void add_baseline_beside(Ctx& c, const std::string& dir, int64_t a, uint64_t p) {
  const std::string rel = dir + "/prompt" + std::to_string(p) + "_baseline.wav";
  const int64_t item = a * c.plan.P + static_cast<int64_t>(p);
  if (!c.base_done[item] || !c.listed.insert(rel).second) return;
  c.wavs->push_back(
      {"/baseline/codes", item, rel,
       json{
           {"kind", "baseline"}, {"concept", c.concepts[a]}, {"concept_index", a}, {"prompt", p}}});
}

void add_extreme(Ctx& c, const std::string& dir, const std::string& technique, int64_t q, int64_t a,
                 int64_t b, uint64_t p, int64_t item, const std::string& target, int64_t j,
                 const char* which, uint64_t rank, double effect) {
  const std::string stem = dir + "/prompt" + std::to_string(p);
  const std::string rel =
      stem + "_" + which + std::to_string(rank) + "_" + file_safe(target) + ".wav";
  c.wavs->push_back({"/interventions/codes", item, rel,
                     json{{"kind", "extreme"},
                          {"technique", technique},
                          {"pair", q},
                          {"original", c.concepts[a]},
                          {"desired", c.concepts[b]},
                          {"prompt", p},
                          {"target", target},
                          {"target_index", j},
                          {"which", which},
                          {"rank", rank},
                          {"effect", effect},
                          {"baseline", stem + "_baseline.wav"}}});
}

// --extremes: the store's /extremes of every prompt.
void plan_extremes(Ctx& c, const std::string& path) {
  const Store& store = c.store;
  if (!store.has_dataset("/extremes/done"))
    throw InputError(path, "/extremes",
                     "the job has no extremes (extremes.enabled is false, or it has no "
                     "interventions)",
                     "export --baseline, or run a job with [extremes] enabled = true");
  if (!store.read_all<uint8_t>("/extremes/done")[0])
    throw InputError(path, "/extremes/done",
                     "the extremes are not computed yet: the run has not finished",
                     "let the run finish (mgsweep status shows its progress), or use --per-pair");
  const auto shape = store.shape("/extremes/top");  // [nT, nQ, P, E]
  const auto top = store.read_all<int64_t>("/extremes/top");
  const auto bottom = store.read_all<int64_t>("/extremes/bottom");
  const auto done = store.read_all<uint8_t>("/interventions/done");
  const auto effect = store.read_all<double>("/interventions/effect");
  const auto pairs = store.read_all<int64_t>("/interventions/pairs");
  const auto techniques = store.read_strings("/interventions/techniques");
  const auto targets = store.read_strings("/interventions/targets");
  const uint64_t nT = shape[0], nQ = shape[1], P = shape[2], E = shape[3], J = targets.size();
  for (uint64_t t = 0; t < nT; ++t)
    for (uint64_t q = 0; q < nQ; ++q) {
      const int64_t a = pairs[2 * q], b = pairs[2 * q + 1];
      const std::string dir = pair_dir(c, techniques[t], a, b);
      for (uint64_t p = 0; p < P; ++p) {
        const uint64_t g = (t * nQ + q) * P + p;
        for (int which = 0; which < 2; ++which)
          for (uint64_t r = 0; r < E; ++r) {
            const int64_t j = (which == 0 ? top : bottom)[g * E + r];
            if (j < 0 || static_cast<uint64_t>(j) >= J) continue;
            const int64_t item = static_cast<int64_t>(g * J) + j;
            if (!done[item]) continue;
            add_extreme(c, dir, techniques[t], q, a, b, p, item, targets[j], j,
                        which == 0 ? "top" : "bottom", r + 1, effect[item]);
          }
        add_baseline_beside(c, dir, a, p);
      }
    }
}

// --extremes --per-pair N: the N largest and N smallest effects of each (technique, pair).
void plan_per_pair(Ctx& c, int64_t n) {
  const Store& store = c.store;
  if (!store.has_dataset("/interventions/effect")) return;  // no interventions: nothing
  const auto shape = store.shape("/interventions/effect");  // [nT, nQ, P, J]
  const auto done = store.read_all<uint8_t>("/interventions/done");
  const auto effect = store.read_all<double>("/interventions/effect");
  const auto pairs = store.read_all<int64_t>("/interventions/pairs");
  const auto techniques = store.read_strings("/interventions/techniques");
  const auto targets = store.read_strings("/interventions/targets");
  const uint64_t nT = shape[0], nQ = shape[1], P = shape[2], J = shape[3];
  for (uint64_t t = 0; t < nT; ++t)
    for (uint64_t q = 0; q < nQ; ++q) {
      const uint64_t g0 = (t * nQ + q) * P * J;
      std::vector<uint64_t> cells;  // (p * J + j) with a finite, done effect
      for (uint64_t k = 0; k < P * J; ++k)
        if (done[g0 + k] && std::isfinite(effect[g0 + k])) cells.push_back(k);
      const int64_t a = pairs[2 * q], b = pairs[2 * q + 1];
      const std::string dir = pair_dir(c, techniques[t], a, b);
      for (int which = 0; which < 2; ++which) {
        std::vector<uint64_t> order = cells;
        std::stable_sort(order.begin(), order.end(), [&](uint64_t x, uint64_t y) {
          return which == 0 ? effect[g0 + x] > effect[g0 + y] : effect[g0 + x] < effect[g0 + y];
        });
        const uint64_t m = std::min<uint64_t>(order.size(), static_cast<uint64_t>(n));
        for (uint64_t r = 0; r < m; ++r) {
          const uint64_t p = order[r] / J, j = order[r] % J;
          add_extreme(c, dir, techniques[t], q, a, b, p, static_cast<int64_t>(g0 + order[r]),
                      targets[j], static_cast<int64_t>(j), which == 0 ? "top" : "bottom", r + 1,
                      effect[g0 + order[r]]);
          add_baseline_beside(c, dir, a, p);
        }
      }
    }
}

void plan_baseline(const Ctx& c) {
  for (int64_t a = 0; a < c.plan.C; ++a)
    for (int64_t p = 0; p < c.plan.P; ++p) {
      const int64_t item = a * c.plan.P + p;
      if (c.base_done[item])
        c.wavs->push_back(
            {"/baseline/codes", item,
             "baseline/" + file_safe(c.concepts[a]) + "/prompt" + std::to_string(p) + ".wav",
             json{{"kind", "baseline"},
                  {"concept", c.concepts[a]},
                  {"concept_index", a},
                  {"prompt", p}}});
    }
}

void plan_lens(const Ctx& c, const ExportAudioOptions& o) {
  if (!c.store.has_dataset("/lens/k"))
    throw InputError(o.store, "/lens", "the job has no DecoderLens stage (lens.enabled is false)",
                     "export without --lens");
  const auto ks = c.store.read_all<int64_t>("/lens/k");
  const auto done = c.store.read_all<uint8_t>("/lens/done");  // [C, P, nK]
  const std::vector<int64_t> want = o.lens_ks.empty() ? spread_ks(ks) : o.lens_ks;
  const int64_t nK = static_cast<int64_t>(ks.size());
  for (int64_t k : want)
    if (std::find(ks.begin(), ks.end(), k) == ks.end())
      throw InputError("--lens-k", std::to_string(k), "is not a cut of the store's /lens/k");
  for (int64_t a = 0; a < c.plan.C; ++a)
    for (int64_t p = 0; p < std::min(o.lens_prompts, c.plan.P); ++p)
      for (int64_t k : want) {
        const int64_t ki = std::find(ks.begin(), ks.end(), k) - ks.begin();
        const int64_t item = (a * c.plan.P + p) * nK + ki;
        if (!done[item]) continue;
        c.wavs->push_back({"/lens/codes", item,
                           "lens/" + file_safe(c.concepts[a]) + "/k" + std::to_string(k) +
                               "_prompt" + std::to_string(p) + ".wav",
                           json{{"kind", "lens"},
                                {"concept", c.concepts[a]},
                                {"concept_index", a},
                                {"prompt", p},
                                {"k", k}}});
      }
}

void write_manifest(const fs::path& out, const std::string& store, int64_t rate,
                    const std::vector<Wav>& wavs) {
  json files = json::array();
  for (const Wav& w : wavs) {
    json e = w.entry;
    e["file"] = w.rel;
    files.push_back(std::move(e));
  }
  const json m{{"format", "mgsweep.audio/1"},
               {"store", fs::absolute(store).string()},
               {"sample_rate", rate},
               {"files", files}};
  fs::create_directories(out);
  const fs::path tmp = out / "manifest.json.tmp";
  {
    std::ofstream f(tmp);
    f << m.dump(1) << "\n";
    if (!f) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, out / "manifest.json");  // atomic: a reader sees the old or the new one
}

}  // namespace

std::string file_safe(const std::string& name) {
  std::string s = name;
  for (char& ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-' ||
          ch == '@'))
      ch = '_';
  if (s.empty() || s == "." || s == "..") s = "_" + s;
  return s;
}

std::vector<int64_t> spread_ks(const std::vector<int64_t>& ks, size_t max_count) {
  if (ks.size() <= max_count || max_count < 2) return ks;
  std::vector<int64_t> out;
  for (size_t i = 0; i < max_count; ++i) {
    const size_t at = (i * (ks.size() - 1) + (max_count - 1) / 2) / (max_count - 1);
    if (out.empty() || out.back() != ks[at]) out.push_back(ks[at]);
  }
  return out;
}

ExportAudioResult export_audio(const ExportAudioOptions& o) {
  if (!o.extremes && !o.baseline && !o.lens)
    throw InputError("export-audio", "", "nothing to export",
                     "give --extremes, --baseline and/or --lens");
  if (o.batch < 1) throw InputError("--batch", std::to_string(o.batch), "must be at least 1");
  if (o.per_pair < 0)
    throw InputError("--per-pair", std::to_string(o.per_pair), "must not be negative");
  if (o.lens_prompts < 1)
    throw InputError("--lens-prompts", std::to_string(o.lens_prompts), "must be at least 1");
  std::unique_ptr<Store> store = Store::open_read_only(o.store);
  const auto job = load_store_job(*store, o.model);
  const JobSpec& spec = job->spec;

  ExportAudioResult res;
  if (!o.out.empty()) {
    res.out = o.out;
  } else {
    const fs::path p(o.store);
    res.out = (p.parent_path() / (p.stem().string() + "_audio")).string();
  }
  const fs::path out(res.out);
  const std::vector<std::string> concepts = store->read_strings("/concepts");

  std::vector<Wav> extremes, baseline, lens;
  Ctx c{*store, *job->plan, concepts, store->read_all<uint8_t>("/baseline/done"), &extremes};
  if (o.extremes && o.per_pair > 0)
    plan_per_pair(c, o.per_pair);
  else if (o.extremes)
    plan_extremes(c, o.store);
  c.wavs = &baseline;
  if (o.baseline) plan_baseline(c);
  c.wavs = &lens;
  if (o.lens) plan_lens(c, o);

  const at::Device device = resolve_device(o.device.empty() ? spec.generation.device : o.device);
  mg::MusicGen model(spec.model, mg::RunOptions{device, mg::parse_dtype(spec.generation.dtype)});
  const int64_t rate = model.sample_rate();

  // Decodes runs of WAVs that read the same codes dataset, `batch` at a time.
  auto write_all = [&](std::vector<Wav> wavs, const char* what) {
    std::stable_sort(wavs.begin(), wavs.end(),
                     [](const Wav& x, const Wav& y) { return x.codes < y.codes; });
    size_t i = 0;
    int64_t written = 0;
    while (i < wavs.size()) {
      size_t e = i;
      std::vector<int64_t> items;
      while (e < wavs.size() && wavs[e].codes == wavs[i].codes &&
             static_cast<int64_t>(items.size()) < o.batch)
        items.push_back(wavs[e++].item);
      const at::Tensor audio = decode_items(*store, wavs[i].codes, items, model);
      for (size_t k = i; k < e; ++k) {
        const fs::path path = out / wavs[k].rel;
        fs::create_directories(path.parent_path());
        mg::write_wav(path.string(), audio[static_cast<int64_t>(k - i)], rate);
        ++written;
      }
      i = e;
      if (!o.quiet)
        std::fprintf(stderr, "export-audio: %s %lld/%zu\n", what, static_cast<long long>(written),
                     wavs.size());
    }
    return written;
  };
  res.extremes_files = write_all(extremes, "extremes");
  res.baseline_files = write_all(baseline, "baseline");
  res.lens_files = write_all(lens, "lens");

  std::vector<Wav> all = extremes;
  all.insert(all.end(), baseline.begin(), baseline.end());
  all.insert(all.end(), lens.begin(), lens.end());
  if (o.manifest) write_manifest(out, o.store, rate, all);
  return res;
}

}  // namespace mg::sweep
