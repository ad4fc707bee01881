// MusicGen's language model: K codebook embeddings summed with a sinusoidal
// position, pre-norm layers (self-attention, cross-attention over the text,
// fc1 -> GELU -> fc2), a final LayerNorm and K linear heads.
//
// Speed notes: Q/K/V of the self-attention are one fused GEMM, the K heads are
// one GEMM, the K embeddings one gather; the KV cache is allocated once per
// generation and filled in place; cross-attention keys/values are computed once
// per generation, for the distinct prompts only, and shared by the rows.
#pragma once

#include <ATen/ATen.h>

#include <mutex>
#include <vector>

#include "musicgen/config.h"
#include "musicgen/hook_runner.h"
#include "musicgen/linear.h"
#include "musicgen/weights.h"

namespace mg {

// Per-generation state: caches and the position reached.
struct DecoderState {
  int64_t rows = 0;
  int64_t capacity = 0;                      // positions the self-attention cache can hold
  int64_t pos = 0;                           // positions already fed
  std::vector<at::Tensor> self_k, self_v;    // per layer [rows, heads, capacity, head_dim]
  std::vector<at::Tensor> cross_k, cross_v;  // per layer [rows, heads, L, head_dim]
  at::Tensor cross_mask;                     // [rows, 1, 1, L] additive, or undefined
};

class LmDecoder {
 public:
  LmDecoder(const DecoderConfig& cfg, const Weights& w, const at::TensorOptions& options,
            const std::string& prefix = "decoder.", CpuGemm gemm = CpuGemm::Auto);

  // cond: [U, L, hidden] distinct conditioning rows (already projected and masked),
  // mask: [U, L] (1 = real text token); row_source: [rows] int64, which of the U rows
  // each decoder row reads. A row whose mask is all zero (the unconditional half)
  // attends uniformly to zero vectors, which is what the reference computes for it.
  DecoderState start(const at::Tensor& cond, const at::Tensor& mask, const at::Tensor& row_source,
                     int64_t capacity, int64_t num_layers) const;

  // Feeds grid columns tokens [rows, K, S] at positions state.pos .. pos+S-1 and
  // returns logits [rows, K, S, vocab] (float32). num_layers < total = DecoderLens
  // (the final norm and heads read layer num_layers-1's output). hooks may be null.
  at::Tensor forward(DecoderState& state, const at::Tensor& tokens, int64_t num_layers,
                     HookRunner* hooks) const;

  // Optional: the input of layer 0 (sum of embeddings + position), for tests.
  at::Tensor embed(const at::Tensor& tokens, int64_t pos0) const;

  const DecoderConfig& config() const { return cfg_; }
  const at::TensorOptions& options() const { return opt_; }

 private:
  struct Layer {
    at::Tensor ln1_w, ln1_b;
    Linear qkv;       // [3H, H]: q, k, v stacked
    Linear self_out;  // [H, H]
    at::Tensor ln_cross_w, ln_cross_b;
    Linear cross_q, cross_kv, cross_out;  // cross_kv [2H, H]
    at::Tensor ln2_w, ln2_b;
    Linear fc1, fc2;
  };
  // Memory for the self-attention caches of one generation (numel elements). The
  // decoder keeps its largest arena and hands it to the next generation once the
  // previous one has released it: a fresh cache costs a page fault every 4 KB as it
  // fills (3% of a batch-16 generation on CPU); a reused one costs nothing. The
  // arena stays allocated for the decoder's lifetime (at most one generation's worth).
  at::Tensor kv_arena(int64_t numel) const;
  at::Tensor split_heads(const at::Tensor& x) const;  // [N,S,H] -> [N,heads,S,hd]
  at::Tensor merge_heads(const at::Tensor& x) const;  // inverse
  // activation(h fc1^T) as config.json names it (GELU fused into the GEMM when packed).
  at::Tensor fc1_activated(const Linear& fc1, const at::Tensor& h) const;
  // Writes the new position's keys and values from qkv [N, 1, 3H] into the caches
  // [N, heads, capacity, hd] at `pos` (float32 CPU; ATen's strided copy_ cost 3% of
  // a batch-16 step in call overhead).
  void store_step(const at::Tensor& qkv, at::Tensor& k, at::Tensor& v, int64_t pos) const;

  DecoderConfig cfg_;
  at::TensorOptions opt_;
  mutable std::mutex arena_mutex_;
  mutable at::Tensor arena_;  // see kv_arena()
  bool cpu_kernels_ = false;  // float32 CPU with AVX2/AVX-512: our attention kernel for decoding
  at::Tensor embed_;          // [K * (vocab+1), H]: the K tables stacked
  at::Tensor positions_;      // [max_positions, H]
  std::vector<Layer> layers_;
  at::Tensor final_w_, final_b_;
  Linear heads_;  // [K * vocab, H]: the K heads stacked
};

// The sinusoidal table as the reference computes it: cat(cos, sin), frequencies
// 10000^(-i/(half-1)), in float32.
at::Tensor sinusoidal_positions(int64_t count, int64_t dim);

}  // namespace mg
