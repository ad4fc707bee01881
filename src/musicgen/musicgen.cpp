#include "musicgen/musicgen.h"

#include <filesystem>

#include "musicgen/errors.h"
#include "musicgen/load_profile.h"
#include "musicgen/weights.h"

namespace mg {
namespace fs = std::filesystem;

at::Device parse_device(const std::string& s) {
  if (s == "cpu") return at::kCPU;
  if (s.rfind("cuda", 0) == 0) {
    if (!at::hasCUDA())
      throw InputError("--device", s, "CUDA is not available on this machine", "use --device cpu");
    int idx = 0;
    if (s.size() > 5 && s[4] == ':') idx = std::stoi(s.substr(5));
    return at::Device(at::kCUDA, static_cast<at::DeviceIndex>(idx));
  }
  throw InputError("--device", s, "unknown device", "use cpu, cuda or cuda:N");
}

at::ScalarType parse_dtype(const std::string& s) {
  if (s == "float32") return at::kFloat;
  if (s == "float16") return at::kHalf;
  if (s == "bfloat16") return at::kBFloat16;
  throw InputError("--dtype", s, "unknown dtype", "use float32, float16 or bfloat16");
}

MusicGen::MusicGen(const std::string& dir, const RunOptions& options) : options_(options) {
  LoadProfile profile;
  if (!fs::is_directory(dir))
    throw InputError(dir, "", "is not a folder",
                     "--model takes a MusicGen checkpoint folder (config.json, model.safetensors, "
                     "tokenizer.json)");
  config_ = MusicgenConfig::from_file((fs::path(dir) / "config.json").string());
  const std::string tok_path = (fs::path(dir) / "tokenizer.json").string();
  tokenizer_ = std::make_unique<T5Tokenizer>(T5Tokenizer::from_file(tok_path));
  // An id past the embedding table would surface as a LibTorch index error deep in T5; the
  // shape of the table itself is checked against config.json when it is read (weights.h).
  const auto tok_vocab = static_cast<int64_t>(tokenizer_->vocab_size());
  if (tok_vocab > config_.text.vocab_size)
    throw InputError(tok_path, "model.vocab",
                     "has " + std::to_string(tok_vocab) +
                         " ids (pieces plus added tokens), more than the " +
                         std::to_string(config_.text.vocab_size) +
                         " rows of the text encoder's embedding (config.json "
                         "text_encoder.vocab_size)",
                     "use the tokenizer.json that came with this checkpoint");
  prompt_limit_ = read_prompt_limit(dir);
  const Weights w = Weights::open_folder(dir);
  profile.lap("config_tokenizer_map");
  t5_ = std::make_unique<T5Encoder>(config_.text, w, options.device);
  profile.lap("t5");
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(options.device);
  proj_w_ =
      w.get("enc_to_dec_proj.weight", {config_.decoder.hidden_size, config_.text.d_model}, f32);
  proj_b_ = w.get("enc_to_dec_proj.bias", {config_.decoder.hidden_size}, f32);
  const auto run = at::TensorOptions().dtype(options.dtype).device(options.device);
  decoder_ = std::make_unique<LmDecoder>(config_.decoder, w, run, "decoder.", options.cpu_gemm);
  profile.lap("decoder");
  // Stereo checkpoints interleave left/right codebooks; each channel decodes half.
  const int64_t per_channel = config_.decoder.num_codebooks / config_.decoder.audio_channels;
  encodec_ = std::make_unique<EncodecDecoder>(config_.audio, w, run, "audio_encoder.", per_channel);
  profile.lap("encodec");
  profile.print(dir);
}

at::Tensor MusicGen::text_states(const at::Tensor& ids, const at::Tensor& mask) const {
  return t5_->forward(ids, mask);
}

Conditioning MusicGen::encode_ids(const at::Tensor& ids, const at::Tensor& mask) const {
  at::Tensor states = t5_->forward(ids, mask);
  at::Tensor m = mask.to(options_.device, at::kLong);
  at::Tensor hidden = at::linear(states, proj_w_, proj_b_) * m.unsqueeze(-1).to(at::kFloat);
  return Conditioning{hidden.to(options_.dtype), m};
}

Conditioning MusicGen::encode(const std::vector<std::string>& prompts,
                              const std::string& source) const {
  for (size_t i = 0; i < prompts.size(); ++i)
    check_prompt_length(*tokenizer_, prompt_limit_, prompts[i], source,
                        "prompt " + std::to_string(i) + " ('" + printable(prompts[i], 40) + "')");
  const auto batch = tokenizer_->encode_batch(prompts);
  at::Tensor ids = at::tensor(batch.ids, at::kLong).view({batch.rows, batch.cols});
  at::Tensor mask = at::tensor(batch.mask, at::kLong).view({batch.rows, batch.cols});
  return encode_ids(ids, mask);
}

GenerationResult MusicGen::generate(const Conditioning& cond,
                                    const GenerationRequest& request) const {
  return mg::generate(*decoder_, cond, request);
}

at::Tensor MusicGen::decode_audio(const at::Tensor& codes_in) const {
  const at::Tensor codes = codes_in.to(options_.device);
  if (config_.decoder.audio_channels == 1) return encodec_->decode(codes).to(at::kCPU, at::kFloat);
  // Stereo: codebooks 0, 2, 4, ... are the left channel, 1, 3, 5, ... the right.
  const int64_t K = codes.size(1);
  at::Tensor left = encodec_->decode(codes.slice(1, 0, K, 2));
  at::Tensor right = encodec_->decode(codes.slice(1, 1, K, 2));
  return at::cat({left, right}, 1).to(at::kCPU, at::kFloat);
}

}  // namespace mg
