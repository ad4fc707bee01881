#include "sweep/audio_export.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "musicgen/errors.h"
#include "musicgen/musicgen.h"
#include "musicgen/wav.h"
#include "sweep/store_job.h"
#include "sweep/store.h"

namespace mg::sweep {
namespace fs = std::filesystem;

namespace {

// One WAV to write: the item (flat index into the leading axes) of a codes dataset.
struct Wav {
  std::string codes;  // "/baseline/codes" or "/interventions/codes"
  int64_t item = 0;
  fs::path path;
};

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

ExportAudioResult export_audio(const ExportAudioOptions& o) {
  if (!o.extremes && !o.baseline)
    throw InputError("export-audio", "", "nothing to export", "give --extremes and/or --baseline");
  if (o.batch < 1) throw InputError("--batch", std::to_string(o.batch), "must be at least 1");
  std::unique_ptr<Store> store = Store::open_read_only(o.store);
  const auto job = load_store_job(*store, o.model);
  const JobSpec& spec = job->spec;
  const Plan& plan = *job->plan;

  ExportAudioResult res;
  if (!o.out.empty()) {
    res.out = o.out;
  } else {
    const fs::path p(o.store);
    res.out = (p.parent_path() / (p.stem().string() + "_audio")).string();
  }
  const fs::path out(res.out);
  const std::vector<std::string> concepts = store->read_strings("/concepts");
  const uint64_t P = plan.P;

  std::vector<Wav> extremes, baseline;
  const auto base_done = store->read_all<uint8_t>("/baseline/done");
  if (o.extremes) {
    if (!store->has_dataset("/extremes/done"))
      throw InputError(o.store, "/extremes",
                       "the job has no extremes (extremes.enabled is false, or it has no "
                       "interventions)",
                       "export --baseline, or run a job with [extremes] enabled = true");
    if (!store->read_all<uint8_t>("/extremes/done")[0])
      throw InputError(o.store, "/extremes/done",
                       "the extremes are not computed yet: the run has not finished",
                       "let the run finish (mgsweep status shows its progress)");
    const auto shape = store->shape("/extremes/top");  // [nT, nQ, P, E]
    const auto top = store->read_all<int64_t>("/extremes/top");
    const auto bottom = store->read_all<int64_t>("/extremes/bottom");
    const auto done = store->read_all<uint8_t>("/interventions/done");
    const auto pairs = store->read_all<int64_t>("/interventions/pairs");
    const auto techniques = store->read_strings("/interventions/techniques");
    const auto targets = store->read_strings("/interventions/targets");
    const uint64_t nT = shape[0], nQ = shape[1], E = shape[3], J = targets.size();
    for (uint64_t t = 0; t < nT; ++t)
      for (uint64_t q = 0; q < nQ; ++q) {
        const int64_t a = pairs[2 * q], b = pairs[2 * q + 1];
        const fs::path dir = out / "extremes" / file_safe(techniques[t]) /
                             (file_safe(concepts[a]) + "_to_" + file_safe(concepts[b]));
        for (uint64_t p = 0; p < P; ++p) {
          const std::string stem = "prompt" + std::to_string(p);
          const uint64_t g = (t * nQ + q) * P + p;
          for (int which = 0; which < 2; ++which)
            for (uint64_t r = 0; r < E; ++r) {
              const int64_t j = (which == 0 ? top : bottom)[g * E + r];
              if (j < 0 || static_cast<uint64_t>(j) >= J) continue;
              const int64_t item = static_cast<int64_t>(g * J) + j;
              if (!done[item]) continue;
              extremes.push_back(
                  {"/interventions/codes", item,
                   dir / (stem + (which == 0 ? "_top" : "_bottom") + std::to_string(r + 1) + "_" +
                          file_safe(targets[j]) + ".wav")});
            }
          const int64_t bitem = a * static_cast<int64_t>(P) + static_cast<int64_t>(p);
          if (base_done[bitem])
            extremes.push_back({"/baseline/codes", bitem, dir / (stem + "_baseline.wav")});
        }
      }
  }
  if (o.baseline)
    for (int64_t c = 0; c < plan.C; ++c)
      for (uint64_t p = 0; p < P; ++p) {
        const int64_t item = c * static_cast<int64_t>(P) + static_cast<int64_t>(p);
        if (base_done[item])
          baseline.push_back({"/baseline/codes", item,
                              out / "baseline" / file_safe(concepts[c]) /
                                  ("prompt" + std::to_string(p) + ".wav")});
      }

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
        fs::create_directories(wavs[k].path.parent_path());
        mg::write_wav(wavs[k].path.string(), audio[static_cast<int64_t>(k - i)], rate);
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
  return res;
}

}  // namespace mg::sweep
