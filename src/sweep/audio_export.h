// `mgsweep export-audio`: WAV files of a store's generations, decoded from the stored codes
// with the job's model (the store keeps codes, not audio).
//
//   --extremes  for every (technique, pair a->b, prompt p of a) the targets of /extremes/top
//               and /extremes/bottom:
//                 OUT/extremes/<technique>/<a>_to_<b>/prompt<p>_top<r>_<target>.wav
//                 OUT/extremes/<technique>/<a>_to_<b>/prompt<p>_bottom<r>_<target>.wav
//               (r = 1 is the largest / smallest effect; <target> as in /interventions/targets,
//               e.g. layers.3.mlp or layers.3.mlp@10-50) and the baseline of that prompt beside
//               them as prompt<p>_baseline.wav. Entries of -1 (fewer targets than top_k) and
//               items that are not done are skipped. InputError when the job has no extremes
//               stage or /extremes/done is not set yet (the run has not finished).
//   --extremes --per-pair N
//               instead, for every (technique, pair) the N done items with the largest and the
//               N with the smallest finite effect over all its prompts and targets (ties: the
//               first in (prompt, target) order), same file names (r = rank within the pair),
//               with their baselines. Read from /interventions/effect, so it needs no extremes
//               stage and works on a partial store; a store without interventions has none.
//               What `mgsweep report` plays.
//   --baseline  every done baseline generation: OUT/baseline/<concept>/prompt<p>.wav
//   --lens      DecoderLens generations: for every concept, the cuts of `lens_ks` (default: up
//               to four spread over /lens/k, the first and the last among them) of its first
//               `lens_prompts` prompts, where done: OUT/lens/<concept>/k<k>_prompt<p>.wav
//
// With `manifest` (--manifest), the export also writes OUT/manifest.json, what each WAV is (format
// "mgsweep.audio/1"):
//   {"format", "store", "sample_rate", "files": [
//     {"kind": "extreme", "technique", "pair", "original", "desired", "prompt", "target",
//      "target_index", "which": "top"|"bottom", "rank", "effect", "file", "baseline"},
//     {"kind": "baseline", "concept", "concept_index", "prompt", "file"},
//     {"kind": "lens", "concept", "concept_index", "prompt", "k", "file"}]}
// with paths relative to OUT. The report (python/mgsweep/report) builds its players from it.
//
// The files are 32-bit float WAVs at the model's sample rate with the model's channels
// (mg::write_wav), each written atomically; existing files are replaced. The store is opened
// read-only (a snapshot, journal included), so this works while a run writes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mg::sweep {

struct ExportAudioOptions {
  std::string store;
  std::string out;     // default: <store stem>_audio beside the store
  std::string model;   // default: the job's model (spec.model in the store's spec_toml)
  std::string device;  // default: the job's generation.device
  bool extremes = false;
  int64_t per_pair = 0;  // > 0: the per-pair selection above instead of /extremes
  bool baseline = false;
  bool lens = false;
  std::vector<int64_t> lens_ks;  // empty: up to four spread over /lens/k
  int64_t lens_prompts = 1;
  bool manifest = false;  // write OUT/manifest.json
  int64_t batch = 16;     // generations decoded per call
  bool quiet = false;
};

struct ExportAudioResult {
  std::string out;  // the folder written
  int64_t extremes_files = 0;
  int64_t baseline_files = 0;
  int64_t lens_files = 0;
};

ExportAudioResult export_audio(const ExportAudioOptions& options);

// A file-name-safe form of a name: characters other than letters, digits, '.', '_', '-', '@'
// become '_'.
std::string file_safe(const std::string& name);

// The DecoderLens cuts exported by default: up to `max_count` entries of `ks`, evenly spread,
// always the first and the last.
std::vector<int64_t> spread_ks(const std::vector<int64_t>& ks, size_t max_count = 4);

}  // namespace mg::sweep
