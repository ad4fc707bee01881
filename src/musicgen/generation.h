// The generation loop: delay pattern, classifier-free guidance, sampling, hooks.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

#include "musicgen/hooks.h"
#include "musicgen/lm_decoder.h"
#include "musicgen/sampling.h"

namespace mg {

// Conditioning the decoder cross-attends to: U distinct prompts.
struct Conditioning {
  at::Tensor hidden;  // [U, L, hidden] (projected, padded positions zero)
  at::Tensor mask;    // [U, L] int64, 1 = real token
};

struct GenerationRequest {
  int64_t frames = 0;
  SamplingConfig sampling;
  // Batch element b reads conditioning row prompt_of_row[b] (default: b) and
  // draws its noise with row_keys[b] (default: its index; use row_key_of(prompt)).
  std::vector<int64_t> prompt_of_row;
  std::vector<uint64_t> row_keys;
  int64_t lens_layers = 0;  // DecoderLens: run only the first k layers (0 = all)
  std::vector<Intervention> interventions;
  std::vector<CaptureRequest> captures;
  bool keep_step_logits = false;
  std::function<void(int64_t step, int64_t steps)> on_step;
};

struct GenerationResult {
  at::Tensor codes;     // [B, K, frames] int64, delay pattern undone
  at::Tensor sequence;  // [B, K, frames + max delay + 1] int64, the raw grid (column 0 = BOS)
  std::vector<CaptureResult> captures;
  at::Tensor step_logits;
};

// Runs frames + max delay LM steps over 2B rows (conditional half, then the
// unconditional half with zero conditioning).
GenerationResult generate(const LmDecoder& decoder, const Conditioning& cond,
                          const GenerationRequest& request);

// Delay pattern helpers. Codebook k is delayed by delays[k] steps (DecoderConfig::delay);
// column 0 is BOS; the grid has T + max delay + 1 columns.
at::Tensor build_delay_grid(const at::Tensor& codes, const std::vector<int64_t>& delays,
                            int64_t special);  // [B,K,T] -> grid
at::Tensor revert_delay_grid(const at::Tensor& grid,
                             const std::vector<int64_t>& delays);  // -> [B,K,T]
std::vector<int64_t> codebook_delays(const DecoderConfig& cfg);

}  // namespace mg
