// `mgsweep migrate STORE`: brings a store of an older schema up to date from what it holds,
// without generating or classifying again.
//
// mgsweep.store/1 -> mgsweep.store/2: /interventions/precision was -KL(before || after); it
// becomes the original code's -KL(after || before), recomputed from the stored logits (the
// run's, and those of every /rescore/NAME), and /interventions/ideal_precision [nQ, P] is added
// beside each. Every other byte of the results is kept.
//
// mgsweep.store/2 -> mgsweep.store/3: the per-item checksum datasets (item_checksum.h) are
// added, computed from the stored values of every done item, and the fingerprints of the model
// and classifier (fingerprint.h) are recorded, taken from the paths in the store's spec_toml
// where they exist, else "unknown" (a resume then warns that it cannot check them). A schema-1
// store goes through both steps. The edit is made on a copy that
// replaces the store atomically (store_edit.h) while the store's writer lock is held, so a
// crash leaves the old store or the migrated one, and a run cannot write meanwhile.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sweep/spec.h"
#include "sweep/store.h"

namespace mg::sweep {

struct MigrateResult {
  std::string from;          // the schema found
  std::string to;            // the schema written (== from when nothing was to do)
  int64_t items = 0;         // intervention items rescored (all score groups)
  int64_t score_groups = 0;  // the run's scores and each /rescore/NAME
  int64_t checksummed = 0;   // done items given a checksum (2 -> 3)
  std::string model_fingerprint, classifier_fingerprint;  // recorded (2 -> 3)
};

// InputError for a store this mgsweep cannot read (a newer or unknown schema), a locked store.
MigrateResult migrate_store(const std::string& path);

// InputError unless the store has this mgsweep's schema; the message names the migrate
// command for an older one, and says to update mgsweep for a newer one. `command` is the
// refusing command, for the message.
void require_current_schema(const Store& store, const std::string& command);

// ideal_precision [nQ, P] of the pairs (row-major [nQ, 2] concept indices) on the baseline
// logits [C, P, N] (NaN where a baseline row is not finite, e.g. not done).
std::vector<double> ideal_precisions(const JobSpec& spec, const std::vector<int64_t>& pairs,
                                     const std::vector<float>& baseline_logits, uint64_t P,
                                     uint64_t N);

}  // namespace mg::sweep
