// The plan of a job: every work item of every stage, grouped into batches, and
// the store layout that holds their results. A pure function of the spec and the
// model's shapes -- never of the number of ranks -- so that every run of a job,
// fresh or resumed, on 1 rank or 1000, computes the same batches.
//
// Work items and their result axes:
//   baseline      (concept_id c, prompt p)                        [C, P]
//   lens          (concept_id c, prompt p, cut k)                 [C, P, nK]
//   interventions (technique t, pair q=(a,b), prompt p of a, target j)  [nT, nQ, P, J]
// A target is (hook site, step window). Batches: baseline and lens batches hold
// several prompts of one concept_id (lens: at one cut k); an intervention batch holds
// several targets of one (t, q, p), so the text is encoded once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "musicgen/config.h"
#include "musicgen/hooks.h"
#include "sweep/spec.h"
#include "sweep/store.h"

namespace mg::sweep {

// The store schema this mgsweep writes (root attribute "schema"). History:
//   mgsweep.store/1  /interventions/precision = -KL(before || after)
//   mgsweep.store/2  /interventions/precision = -KL(after || before) (the original code's
//                    direction), /interventions/ideal_precision [nQ, P] added
//   mgsweep.store/3  per-item checksums (/baseline/checksum, /lens/checksum,
//                    /interventions/checksum, /means/checksum,
//                    /baseline/self_similarity_checksum; sweep/item_checksum.h) and the
//                    model_fingerprint, classifier_fingerprint attributes (sweep/fingerprint.h)
// `mgsweep migrate` brings an older store up to date (sweep/migrate.h).
inline constexpr const char* kStoreSchema = "mgsweep.store/3";
inline constexpr const char* kPrecisionDoc =
    "-KL(after || before) = -sum_i q_i log(q_i / p_i), q = p_after, p = p_before";
inline constexpr const char* kIdealPrecisionDoc =
    "[pair, prompt] the precision if only p_a and p_b swapped: -(p_a - p_b) log(p_a / p_b)";

enum class StageKind : uint8_t { Baseline = 0, Lens = 1, Interventions = 2 };
const char* stage_name(StageKind s);

struct Target {
  mg::HookSite site;
  mg::StepWindow window;
  int64_t mean_index = 0;    // index of the site in Plan::mean_sites
  std::string name() const;  // "layers.3.mlp" or "layers.3.mlp@10-50"
};

struct Batch {
  StageKind stage = StageKind::Baseline;
  int64_t concept_id = 0;  // baseline, lens
  int64_t prompt0 = 0;     // baseline, lens: first prompt; interventions: the prompt
  int64_t count = 0;       // prompts (baseline, lens) or targets (interventions)
  int64_t lens = 0;        // lens: index into Plan::lens_ks
  int64_t technique = 0;   // interventions
  int64_t pair = 0;        // interventions
  int64_t target0 = 0;     // interventions: first target
};

struct Plan {
  Plan(const JobSpec& spec, const mg::MusicgenConfig& model);

  const JobSpec& spec;
  int64_t C = 0, P = 0, K = 0, frames = 0, steps = 0, L = 0, H = 0, head_dim = 0;
  int64_t classes = 0;
  std::vector<std::vector<std::string>> prompts;   // [C][P]
  std::vector<mg::HookSite> mean_sites;            // sites whose concept_id means are kept
  std::vector<Target> targets;                     // [J]
  std::vector<int64_t> lens_ks;                    // [nK]
  std::vector<mg::InterventionOp> techniques;      // [nT]
  std::vector<std::pair<int64_t, int64_t>> pairs;  // [nQ] (a, b)
  std::vector<Batch> batches;                      // all stages, in dispatch order

  int64_t items(StageKind s) const;
  // Flat item index of a batch's i-th item within its stage (row-major over the axes).
  int64_t item_index(const Batch& b, int64_t i) const;
  int64_t width(const mg::HookSite& site) const { return site.is_head() ? head_dim : H; }
  // Index of a mean site among those of its width group (whole blocks / heads).
  int64_t group_index(int64_t mean_index) const;
  int64_t group_size(bool heads) const;

  // Datasets, documented, with their full shapes (see README "The store").
  StoreLayout layout() const;
};

}  // namespace mg::sweep
