// What coordinator and workers say to each other. Workers build the same Plan
// from the same job file, so a task is a batch index plus the concept_id means the
// worker does not hold yet; a result is the batch's raw outputs (codes, logits,
// and for baselines the fixed-point partial sums of the means). Scores are
// computed by the coordinator, which holds the baselines.
#pragma once

#include <cstdint>
#include <vector>

namespace mg::sweep {

enum class Tag : int { Request = 1, Task = 2, Wait = 3, Stop = 4 };

// One concept_id mean of one site: [steps, width] (per-step) or [1, width] (frame-avg).
struct MeanBlock {
  int64_t concept_id = 0;
  int64_t mean_index = 0;
  int64_t rows = 0;
  std::vector<float> values;
};

struct Task {
  int64_t batch = -1;
  std::vector<MeanBlock> means;  // means the worker needs and does not have yet
};

struct BatchResult {
  int64_t batch = -1;          // -1: no result (the first request)
  double seconds = 0;          // compute time
  std::vector<int16_t> codes;  // [n, K, frames]
  std::vector<float> logits;   // [n, classes]
  // Baseline only: per mean site, sum over the batch's prompts of round(x * 2^32),
  // [sites, steps, width] flattened in site order; and per prompt the layer
  // self-distance matrix [n, L, L].
  std::vector<int64_t> mean_sums;
  std::vector<double> self_distance;
};

std::vector<uint8_t> encode_task(const Task& t);
Task decode_task(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> encode_result(const BatchResult& r);
BatchResult decode_result(const std::vector<uint8_t>& bytes);

}  // namespace mg::sweep
