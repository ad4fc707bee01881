// What a worker does with a batch: generate, decode, classify. The model
// executor is the real thing; the null executor returns deterministic fake
// outputs without any model work, to measure and test the coordinator alone.
#pragma once

#include <map>
#include <memory>
#include <utility>

#include "classify/classifier.h"
#include "musicgen/musicgen.h"
#include "sweep/messages.h"
#include "sweep/plan.h"

namespace mg::sweep {

// Concept means a worker has received, by (concept, mean site index).
using MeansCache = std::map<std::pair<int64_t, int64_t>, at::Tensor>;

class Executor {
 public:
  virtual ~Executor() = default;
  virtual BatchResult run(const Batch& batch, const MeansCache& means) = 0;
};

class ModelExecutor final : public Executor {
 public:
  ModelExecutor(const Plan& plan, const mg::MusicGen& model, mg::Classifier& classifier);
  ~ModelExecutor() override;  // with MGSWEEP_PROFILE=1: logs the seconds per part
  BatchResult run(const Batch& batch, const MeansCache& means) override;

 private:
  void finish(const mg::GenerationResult& gen, BatchResult* out);
  // MGSWEEP_PROFILE=1 (bench/run_item_bench.sh): seconds of each part of a batch, summed per
  // stage, so that a benchmark can show where an item's time goes without a profiler.
  enum Part { kT5, kDecoder, kEncodec, kClassifier, kParts };
  void lap(Part part, const at::Tensor& output);
  struct StageProfile {
    double seconds[kParts] = {};
    double total = 0;
    int64_t batches = 0, items = 0;
  };
  const Plan& plan_;
  const mg::MusicGen& model_;
  mg::Classifier& classifier_;
  bool profile_ = false;
  int stage_ = 0;
  double lap_start_ = 0;
  StageProfile prof_[3];
};

class NullExecutor final : public Executor {
 public:
  explicit NullExecutor(const Plan& plan) : plan_(plan) {}
  BatchResult run(const Batch& batch, const MeansCache& means) override;

 private:
  const Plan& plan_;
};

}  // namespace mg::sweep
