#include "musicgen/generation.h"

#include <algorithm>

#include "musicgen/errors.h"
#include "musicgen/serial_scope.h"

namespace mg {

std::vector<int64_t> codebook_delays(const DecoderConfig& cfg) {
  std::vector<int64_t> d;
  for (int64_t k = 0; k < cfg.num_codebooks; ++k) d.push_back(cfg.delay(k));
  return d;
}

at::Tensor build_delay_grid(const at::Tensor& codes, const std::vector<int64_t>& delays,
                            int64_t special) {
  const int64_t B = codes.size(0), K = codes.size(1), T = codes.size(2);
  const int64_t D = *std::max_element(delays.begin(), delays.end());
  at::Tensor grid = at::full({B, K, T + D + 1}, special, codes.options().dtype(at::kLong));
  for (int64_t k = 0; k < K; ++k)
    grid.select(1, k).narrow(1, delays[k] + 1, T).copy_(codes.select(1, k));
  return grid;
}

at::Tensor revert_delay_grid(const at::Tensor& grid, const std::vector<int64_t>& delays) {
  const int64_t K = grid.size(1);
  const int64_t D = *std::max_element(delays.begin(), delays.end());
  const int64_t T = grid.size(2) - D - 1;
  std::vector<at::Tensor> rows;
  for (int64_t k = 0; k < K; ++k) rows.push_back(grid.select(1, k).narrow(1, delays[k] + 1, T));
  return at::stack(rows, 1);
}

GenerationResult generate(const LmDecoder& decoder, const Conditioning& cond,
                          const GenerationRequest& req) {
  const DecoderConfig& cfg = decoder.config();
  const auto& opt = decoder.options();
  const at::Device dev = opt.device();
  const int64_t K = cfg.num_codebooks, V = cfg.vocab_size, T = req.frames;
  const int64_t U = cond.hidden.size(0), L = cond.hidden.size(1);
  const int64_t B = req.prompt_of_row.empty() ? U : static_cast<int64_t>(req.prompt_of_row.size());
  const std::vector<int64_t> delays = codebook_delays(cfg);
  const int64_t steps = T + cfg.max_delay();
  const int64_t layers = req.lens_layers > 0 ? req.lens_layers : cfg.num_hidden_layers;
  if (T <= 0) throw InputError("generation", "frames", "must be positive");
  if (layers > cfg.num_hidden_layers)
    throw InputError("generation", "lens_layers",
                     std::to_string(layers) + " exceeds the model's " +
                         std::to_string(cfg.num_hidden_layers) + " layers");
  if (!req.row_keys.empty() && static_cast<int64_t>(req.row_keys.size()) != B)
    throw InputError("generation", "row_keys", "needs one key per batch element");

  // Rows: [conditional 0..B-1, unconditional 0..B-1]; the unconditional rows all
  // read one extra all-zero conditioning row (index U) with an all-zero mask.
  std::vector<int64_t> source;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t p = req.prompt_of_row.empty() ? b : req.prompt_of_row[b];
    if (p < 0 || p >= U) throw InputError("generation", "prompt_of_row", "index out of range");
    source.push_back(p);
  }
  for (int64_t b = 0; b < B; ++b) source.push_back(U);
  at::Tensor hidden = at::cat({cond.hidden.to(opt), at::zeros({1, L, cfg.hidden_size}, opt)}, 0);
  at::Tensor mask =
      at::cat({cond.mask.to(dev, at::kLong), at::zeros({1, L}, opt.dtype(at::kLong))}, 0);
  DecoderState st = decoder.start(hidden, mask, at::tensor(source, at::kLong), steps, layers);

  std::vector<uint64_t> keys = req.row_keys;
  if (keys.empty())
    for (int64_t b = 0; b < B; ++b) keys.push_back(static_cast<uint64_t>(b));
  const at::Tensor key_tensor = row_key_tensor(keys, req.sampling.seed, dev);
  HookRunner hooks(req.interventions, req.captures, B, steps, cfg.hidden_size, cfg.head_dim(), opt);

  const auto lopt = at::TensorOptions().dtype(at::kLong).device(dev);
  const int64_t special = cfg.pad_token_id;
  at::Tensor grid = at::full({B, K, steps + 1}, special, lopt);
  grid.select(2, 0).fill_(cfg.bos_token_id);
  const at::Tensor kidx = at::tensor(delays, at::kLong).to(dev);  // delay of each codebook
  GenerationResult res;
  if (req.keep_step_logits) res.step_logits = at::empty({2 * B, K, steps, V}, at::kFloat);
  const float scale = static_cast<float>(req.sampling.guidance);

  // A step's projections: per row, self-attention 4H^2, cross-attention q/out 2H^2, MLP 2HF,
  // the K heads V*H. Small steps run on one thread (serial_scope.h).
  const double H = static_cast<double>(cfg.hidden_size);
  const double step_macs = 2.0 * B *
                           (layers * (6.0 * H * H + 2.0 * H * static_cast<double>(cfg.ffn_dim)) +
                            static_cast<double>(K) * static_cast<double>(V) * H);
  SerialScope serial(dev.is_cpu() && step_macs < kSerialStepMacs);
  for (int64_t s = 0; s < steps; ++s) {
    at::Tensor col = grid.narrow(2, s, 1);
    at::Tensor logits = decoder.forward(st, at::cat({col, col}, 0), layers, &hooks).squeeze(2);
    if (req.keep_step_logits) res.step_logits.select(2, s).copy_(logits);
    at::Tensor c = logits.narrow(0, 0, B), u = logits.narrow(0, B, B);
    at::Tensor guided = u + (c - u) * scale;
    at::Tensor next = choose_codes(guided, req.sampling, key_tensor, s);
    // Cell (k, s+1) holds a code only when 0 <= s - delay_k < T; elsewhere the special id.
    at::Tensor valid = (kidx <= s).logical_and(kidx > s - T).view({1, K});
    grid.select(2, s + 1).copy_(at::where(valid, next, special));
    if (req.on_step) req.on_step(s + 1, steps);
  }
  res.sequence = grid;
  res.codes = revert_delay_grid(grid, delays).contiguous();
  res.captures = hooks.take_captures();
  return res;
}

}  // namespace mg
