// Per-item checksums of a store's results (schema 3), so that flipped bytes in a results
// dataset are found (`mgsweep verify`) and recomputed on resume instead of being read as
// results. HDF5's contiguous datasets carry no checksum of their own.
//
// A checksum is the CRC-32C (journal.h's crc32c, Castagnoli, crc32c("123456789") ==
// 0xE3069283) of the concatenated raw bytes (little-endian, as stored) of an item's values,
// in this order; stored as int64 holding the uint32 value (the store has no uint32 type),
// -1 where the item is not done:
//   /baseline/checksum [C,P]: codes[c,p,:,:] int16, logits[c,p,:] float32, ndcg[c,p] float64
//   /lens/checksum [C,P,nK]: codes[c,p,k,:,:], logits[c,p,k,:], ndcg[c,p,k]
//   /interventions/checksum [nT,nQ,P,J]: effect, effect_original, effect_desired, precision
//       (float64 each), status (uint8) at [t,q,p,j], ideal_precision[q,p] float64,
//       logits[t,q,p,j,:] float32, codes[t,q,p,j,:,:] int16
//   /means/checksum [C]: blocks[c], blocks_frame_avg[c], heads[c], heads_frame_avg[c] (those
//       the store has), float32
//   /baseline/self_similarity_checksum [C]: self_similarity[c] float64
// An item counts as done where its done flag is set (self-similarity: every prompt of its
// concept's baseline; means: /means/done[c]). The coordinator journals a checksum with its
// values and before the done flags, so a checkpoint never has a done item without one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sweep/journal.h"
#include "sweep/plan.h"
#include "sweep/store.h"

namespace mg::sweep {

class StoreEdit;

inline constexpr const char* kChecksumDoc =
    "CRC-32C of the item's stored values (README: The store, checksums), as a uint32 value; "
    "-1: not done";
inline constexpr int64_t kNoChecksum = -1;

// Accumulates one item's checksum over its values, in the order above.
class ItemCrc {
 public:
  template <class T>
  ItemCrc& add(const T* values, size_t n) {
    crc_ = crc32c(values, n * sizeof(T), crc_);
    return *this;
  }
  template <class T>
  ItemCrc& add(const T& value) {
    return add(&value, 1);
  }
  int64_t value() const { return static_cast<int64_t>(crc_); }

 private:
  uint32_t crc_ = 0;
};

// Checksums of n baseline or lens results as a batch holds them: codes [n, KT], logits [n, N],
// ndcg [n].
std::vector<int64_t> result_checksums(const int16_t* codes, size_t KT, const float* logits,
                                      size_t N, const double* ndcg, size_t n);

// An intervention batch's scores, [n] each, and the ideal precision of its (pair, prompt).
struct InterventionScores {
  const double *effect, *original, *desired, *precision;
  const uint8_t* status;
  double ideal;
};
std::vector<int64_t> intervention_checksums(const InterventionScores& s, const float* logits,
                                            size_t N, const int16_t* codes, size_t KT, size_t n);

struct DamagedItem {
  std::string stage;             // baseline, lens, interventions, means, self_similarity
  std::vector<uint64_t> index;   // into the stage's item axes
  std::string label;             // "concept=guitar prompt=1", ...
  int64_t stored = kNoChecksum;  // checksum found in the store
  int64_t computed = 0;          // of the values the store holds
};

struct StoreIntegrity {
  int64_t checked = 0;  // done items whose checksum was recomputed
  std::vector<DamagedItem> damaged;
  // 1 where a done item is damaged, flat over the stage's item axes (empty: stage absent).
  std::vector<uint8_t> baseline, lens, interventions;
  std::vector<uint8_t> concept_damaged;  // [C]: means or self-similarity
  bool has_checksums = false;            // the store has /baseline/checksum (schema 3)
};

// Recomputes the checksum of every done item from the values the store holds (journal
// records included for a writer's store) and compares it with the stored one.
StoreIntegrity check_store_items(const Store& store);

// One line per damaged item (the first 20) on stderr, each starting with `prefix`.
void print_damaged(const StoreIntegrity& integrity, const char* prefix);

// Resume: whether a batch may be skipped as done, i.e. none of its items is damaged; a
// baseline batch also needs its concept's means and self-similarity intact and every other
// baseline item of the concept (they are written together, per concept).
bool batch_intact(const StoreIntegrity& integrity, const Plan& plan, const Batch& b);

// Migrate: makes the checksum datasets in `out` and fills them for the done items from the
// values `store` holds. Returns the items checksummed.
int64_t write_checksums(const Store& store, StoreEdit& out);

}  // namespace mg::sweep
