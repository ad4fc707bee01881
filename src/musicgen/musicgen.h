// MusicGen as one object: tokenizer, T5 encoder, the projection into the
// decoder's width, the LM decoder and the EnCodec decoder, loaded from a Hugging
// Face MusicgenForConditionalGeneration folder with no conversion step.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "musicgen/config.h"
#include "musicgen/encodec.h"
#include "musicgen/generation.h"
#include "musicgen/linear.h"
#include "musicgen/lm_decoder.h"
#include "musicgen/prompt_limit.h"
#include "musicgen/t5_encoder.h"
#include "musicgen/tokenizer.h"

namespace mg {

struct RunOptions {
  at::Device device = at::kCPU;
  at::ScalarType dtype = at::kFloat;  // decoder and EnCodec; T5 always runs in float32
  CpuGemm cpu_gemm = CpuGemm::Auto;   // decoder projections on CPU (linear.h)
};

// "cpu" | "cuda" | "cuda:N"; "float32" | "float16" | "bfloat16". Throw InputError.
at::Device parse_device(const std::string& s);
at::ScalarType parse_dtype(const std::string& s);

class MusicGen {
 public:
  MusicGen(const std::string& dir, const RunOptions& options);

  const MusicgenConfig& config() const { return config_; }
  const T5Tokenizer& tokenizer() const { return *tokenizer_; }
  // The longest prompt the text encoder is given (prompt_limit.h).
  const PromptLimit& prompt_limit() const { return prompt_limit_; }
  const LmDecoder& decoder() const { return *decoder_; }
  const EncodecDecoder& audio_decoder() const { return *encodec_; }
  const RunOptions& options() const { return options_; }

  // T5 states [B, L, d_model] float32.
  at::Tensor text_states(const at::Tensor& ids, const at::Tensor& mask) const;
  // The conditioning the decoder reads: enc_to_dec_proj(T5(ids)) * mask.
  Conditioning encode_ids(const at::Tensor& ids, const at::Tensor& mask) const;
  // Refuses (InputError naming `source` and the prompt's index) a prompt past prompt_limit()
  // before it is encoded.
  Conditioning encode(const std::vector<std::string>& prompts,
                      const std::string& source = "prompt") const;

  GenerationResult generate(const Conditioning& cond, const GenerationRequest& request) const;
  // codes [B, K, T] -> audio [B, channels, T * hop] float32 on the CPU.
  at::Tensor decode_audio(const at::Tensor& codes) const;
  int64_t sample_rate() const { return config_.audio.sampling_rate; }

 private:
  MusicgenConfig config_;
  RunOptions options_;
  std::unique_ptr<T5Tokenizer> tokenizer_;
  PromptLimit prompt_limit_;
  std::unique_ptr<T5Encoder> t5_;
  at::Tensor proj_w_, proj_b_;  // enc_to_dec_proj, float32
  std::unique_ptr<LmDecoder> decoder_;
  std::unique_ptr<EncodecDecoder> encodec_;
};

}  // namespace mg
