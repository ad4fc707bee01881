#include "musicgen/sampling.h"

#include <cmath>
#include <limits>

namespace mg {
namespace {

constexpr int64_t kMask32 = 0xFFFFFFFFll;

// (x * c) mod 2^32 for x < 2^32 held in int64, without signed overflow: split c
// into 16-bit halves so that every product stays below 2^48.
at::Tensor mul32(const at::Tensor& x, uint32_t c) {
  const int64_t lo = c & 0xFFFF, hi = c >> 16;
  return (x * lo + at::bitwise_left_shift((x * hi).bitwise_and(0xFFFF), 16)).bitwise_and(kMask32);
}

// The same hash as mix32 (lowbias32 by C. Wellons), elementwise on a tensor.
at::Tensor mix32_tensor(at::Tensor x) {
  x = x.bitwise_xor(at::bitwise_right_shift(x, 16));
  x = mul32(x, 0x7feb352du);
  x = x.bitwise_xor(at::bitwise_right_shift(x, 15));
  x = mul32(x, 0x846ca68bu);
  return x.bitwise_xor(at::bitwise_right_shift(x, 16));
}

}  // namespace

uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

uint64_t row_key_of(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

at::Tensor row_key_tensor(const std::vector<uint64_t>& keys, uint64_t seed, at::Device device) {
  // Fold (seed, key) into 32 bits on the host; the rest happens on the device.
  const uint32_t s = mix32(static_cast<uint32_t>(seed) ^ mix32(static_cast<uint32_t>(seed >> 32)));
  std::vector<int64_t> folded;
  for (uint64_t k : keys) {
    uint32_t v = mix32(s ^ static_cast<uint32_t>(k));
    v = mix32(v ^ static_cast<uint32_t>(k >> 32) ^ 0x9e3779b9u);
    folded.push_back(v);
  }
  return at::tensor(folded, at::kLong).to(device);
}

at::Tensor uniform_noise(const at::Tensor& row_keys, int64_t step, int64_t K, int64_t V,
                         at::Device device) {
  const auto lopt = at::TensorOptions().dtype(at::kLong).device(device);
  // key[b, k] = mix(row ^ mix(step * K + k + 1)); u[b, k, v] = mix(key ^ mix(v + golden)).
  at::Tensor sk = mix32_tensor((at::arange(K, lopt) + (step * K + 1)).bitwise_and(kMask32));
  at::Tensor key = mix32_tensor(row_keys.to(device).view({-1, 1}).bitwise_xor(sk.view({1, K})));
  at::Tensor hv = mix32_tensor((at::arange(V, lopt) + 0x9e3779b9ll).bitwise_and(kMask32));
  at::Tensor bits = mix32_tensor(key.unsqueeze(2).bitwise_xor(hv.view({1, 1, V})));
  return (bits.to(at::kDouble) + 0.5) * (1.0 / 4294967296.0);
}

at::Tensor choose_codes(const at::Tensor& guided, const SamplingConfig& cfg,
                        const at::Tensor& row_keys, int64_t step) {
  if (cfg.greedy) return guided.argmax(-1);
  const int64_t K = guided.size(1), V = guided.size(2);
  at::Tensor scores = guided.to(at::kDouble) / cfg.temperature;
  if (cfg.top_k > 0 && cfg.top_k < V) {
    // Same rule as the references: drop what is below the k-th largest value.
    at::Tensor kth = std::get<0>(scores.topk(cfg.top_k, -1)).narrow(-1, cfg.top_k - 1, 1);
    scores = scores.masked_fill(scores < kth, -std::numeric_limits<double>::infinity());
  }
  // Gumbel-max: argmax(log p + g) is a sample of p; log-softmax only shifts each
  // row by a constant, so the scaled logits do as well as log p.
  at::Tensor u = uniform_noise(row_keys, step, K, V, guided.device());
  at::Tensor gumbel = -at::log(-at::log(u));
  return (scores + gumbel).argmax(-1);
}

}  // namespace mg
