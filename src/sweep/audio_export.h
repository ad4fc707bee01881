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
//   --baseline  every done baseline generation: OUT/baseline/<concept>/prompt<p>.wav
//
// The files are 32-bit float WAVs at the model's sample rate with the model's channels
// (mg::write_wav), each written atomically; existing files are replaced. The store is opened
// read-only (a snapshot, journal included), so this works while a run writes it.
#pragma once

#include <cstdint>
#include <string>

namespace mg::sweep {

struct ExportAudioOptions {
  std::string store;
  std::string out;     // default: <store stem>_audio beside the store
  std::string model;   // default: the job's model (spec.model in the store's spec_toml)
  std::string device;  // default: the job's generation.device
  bool extremes = false;
  bool baseline = false;
  int64_t batch = 16;  // generations decoded per call
  bool quiet = false;
};

struct ExportAudioResult {
  std::string out;  // the folder written
  int64_t extremes_files = 0;
  int64_t baseline_files = 0;
};

ExportAudioResult export_audio(const ExportAudioOptions& options);

// A file-name-safe form of a name: characters other than letters, digits, '.', '_', '-', '@'
// become '_'.
std::string file_safe(const std::string& name);

}  // namespace mg::sweep
