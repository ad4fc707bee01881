// `mgsweep rescore`: the scores of another classifier beside the first, from the stored codes,
// without generating again.
//
// What it does (STORE is the sweep's store, NAME the new scores' name):
//   1. Store::open(STORE): takes the store's single-writer lock (refused while a run writes the
//      store: InputError) and replays the journal, so STORE holds every result. The lock is
//      held to the end, so no run can start writing STORE meanwhile.
//   2. Loads the job from the store's spec_toml (the model from spec.model, or --model) and
//      checks that the plan's shapes match the store's datasets.
//   3. Copies STORE to STORE.rescore.tmp, opens the copy with the HDF5 C API and adds
//      /rescore/NAME/ (--force first unlinks an existing /rescore/NAME):
//        baseline/logits [C,P,N'] f32     baseline/ndcg [C,P] f64
//        lens/logits [C,P,nK,N'] f32      lens/ndcg [C,P,nK] f64                   (lens jobs)
//        interventions/{logits [nT,nQ,P,J,N'] f32, effect, effect_original,
//                       effect_desired, precision [nT,nQ,P,J] f64, status u8,
//                       ideal_precision [nQ,P] f64}                         (intervention jobs)
//      N' = the new classifier's classes; NaN (status 0) where the item is not done. The
//      datasets are made as the store makes its own (contiguous, allocated at creation, fill
//      value, no time stamps), so the result is still a store that `mgsweep run` resumes and
//      status/report/h5py read. Attributes of /rescore/NAME: classifier (its name()),
//      classifier_file, num_classes, model, device, dtype, batch, items_baseline, items_lens,
//      items_interventions.
//   4. Decodes the codes of every done item (baseline, lens, interventions) with the job's
//      model, scores the audio as the run did (channels averaged to mono, then
//      Classifier::classify at the model's sample rate) and computes NDCG / effect scores as
//      the coordinator does (concept labels from the spec, pairs from the plan; "before" is
//      the new classifier's baseline of the same prompt).
//   5. Flushes and closes the copy, fsyncs it, renames it over STORE and fsyncs the folder:
//      STORE is the old file or the complete new one, never a half-written one. Any error
//      before the rename removes the copy and leaves STORE as it was. The original datasets'
//      bytes are untouched (the copy is a byte copy; only new objects are added).
//
// Batches: by default the run's own batches (the plan's, restricted to done items), so that
// on the run's device and dtype the decoder sees the same rows together and the audio, hence
// the scores of the run's classifier, are reproduced bit for bit. --batch N decodes N items
// at a time instead (faster on a GPU where the run's batches were small).
//
// Costs: the copy needs as much free disk as the store; --force leaves the old datasets'
// space in the file (h5repack reclaims it).
#pragma once

#include <cstdint>
#include <string>

namespace mg::sweep {

struct RescoreOptions {
  std::string store;
  std::string classifier;  // "demo" (the built-in demo classifier) or a TorchScript file
  std::string name;        // default: the classifier file's stem ("demo" for demo)
  std::string model;       // default: the job's model (spec.model in the store's spec_toml)
  std::string labels;      // label CSV (index,mid,display_name) for a classifier file without
                           // labels.csv, and the demo classifier's names; default: the job's
  std::string device;      // cpu | cuda | cuda:N; default: the job's generation.device
  int64_t batch = 0;       // items per decode call; 0: the run's batches
  bool force = false;      // replace an existing /rescore/NAME
  bool quiet = false;      // no progress lines on stderr
};

struct RescoreResult {
  std::string name;         // NAME
  std::string classifier;   // its name()
  int64_t num_classes = 0;  // N'
  int64_t items[3] = {0};   // done items scored: baseline, lens, interventions
  double seconds = 0;
};

// Throws mg::InputError for a locked store, a store of an older schema (migrate it first), an
// existing NAME without force, a classifier with too few classes for the job's labels, a model that
// does not match the store, bad options.
RescoreResult rescore(const RescoreOptions& options);

}  // namespace mg::sweep
