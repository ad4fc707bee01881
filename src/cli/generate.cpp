// mgsweep generate: text -> codes -> audio, with optional DecoderLens cut and patches.
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/h5_output.h"
#include "musicgen/errors.h"
#include "musicgen/generation_settings.h"
#include "musicgen/musicgen.h"
#include "musicgen/patch_spec.h"
#include "musicgen/prompt_limit.h"
#include "musicgen/tokenizer.h"
#include "musicgen/wav.h"

namespace mgcli {
namespace fs = std::filesystem;

namespace {

struct GenerateOpts {
  std::string model, out, device = "cpu", dtype = "float32";
  std::vector<std::string> prompts, patches;
  double duration = 0;
  int64_t frames = 0;
  bool greedy = false;
  int64_t top_k = 250;
  double temperature = 1.0, guidance = 3.0;
  // Read as text: CLI11 wraps "-1" into a uint64_t and saturates an int64_t past its range;
  // parsed (as in a job: 0 .. 2^63-1) by check_settings.
  std::string seed_text = "0";
  int64_t seed = 0;
  int64_t lens_layers = 0;
};

// The job's rules (generation_settings.h) for the flags that were given, the flag named.
void check_flag(const CLI::App& sub, const char* flag, const std::string& value,
                const mg::SettingProblem& p) {
  if (sub.count(flag) && !p.ok()) throw mg::InputError(flag, value, p.problem, p.fix);
}

void check_settings(const CLI::App& sub, GenerateOpts& o) {
  check_flag(sub, "--duration", sub.get_option("--duration")->as<std::string>(),
             mg::check_duration(o.duration));
  check_flag(sub, "--frames", std::to_string(o.frames), mg::check_frames(o.frames));
  check_flag(sub, "--top-k", std::to_string(o.top_k), mg::check_top_k(o.top_k));
  check_flag(sub, "--temperature", sub.get_option("--temperature")->as<std::string>(),
             mg::check_temperature(o.temperature));
  check_flag(sub, "--guidance", sub.get_option("--guidance")->as<std::string>(),
             mg::check_guidance(o.guidance));
  const char* end = o.seed_text.data() + o.seed_text.size();
  const auto [ptr, ec] = std::from_chars(o.seed_text.data(), end, o.seed);
  if (ec != std::errc() || ptr != end || o.seed_text.empty())
    throw mg::InputError(
        "--seed", o.seed_text,
        ec == std::errc::result_out_of_range ? "is past the largest seed" : "is not an integer",
        mg::check_seed(-1).fix);
  check_flag(sub, "--seed", o.seed_text, mg::check_seed(o.seed));
}

// Prompts past the checkpoint's limit are refused before the weights are loaded (several GB
// for small): a mistyped prompt costs seconds, not a node's memory. MusicGen::encode checks
// again; a folder or tokenizer that does not load is left to MusicGen's load, which reports
// it in its order (config.json first).
void check_prompts_early(const GenerateOpts& o) {
  const fs::path tok_path = fs::path(o.model) / "tokenizer.json";
  std::error_code ec;
  if (!fs::is_regular_file(tok_path, ec)) return;
  std::unique_ptr<mg::T5Tokenizer> tok;
  try {
    tok = std::make_unique<mg::T5Tokenizer>(mg::T5Tokenizer::from_file(tok_path.string()));
  } catch (const mg::InputError&) {
    return;
  }
  const mg::PromptLimit limit = mg::read_prompt_limit(o.model);
  for (size_t i = 0; i < o.prompts.size(); ++i)
    mg::check_prompt_length(
        *tok, limit, o.prompts[i], "--prompt",
        "prompt " + std::to_string(i) + " ('" + mg::printable(o.prompts[i], 40) + "')");
}

int run_generate(const GenerateOpts& o) {
  mg::RunOptions ro;
  ro.device = mg::parse_device(o.device);
  ro.dtype = mg::parse_dtype(o.dtype);
  check_prompts_early(o);
  mg::MusicGen model(o.model, ro);
  const auto& dc = model.config().decoder;
  int64_t frames = o.frames;
  if (frames <= 0)
    frames = static_cast<int64_t>(std::llround(o.duration * model.config().frame_rate()));
  if (frames <= 0)
    throw mg::InputError("--duration/--frames", "", "give a positive --duration or --frames");
  if (o.lens_layers < 0 || o.lens_layers > dc.num_hidden_layers)
    throw mg::InputError(
        "--lens-layers", std::to_string(o.lens_layers),
        "must be between 1 and the model's " + std::to_string(dc.num_hidden_layers) + " layers");

  mg::GenerationRequest req;
  req.frames = frames;
  req.sampling = {o.greedy, o.top_k, o.temperature, o.guidance, static_cast<uint64_t>(o.seed)};
  req.lens_layers = o.lens_layers;
  for (const auto& p : o.prompts) req.row_keys.push_back(mg::row_key_of(p));
  for (const auto& spec : o.patches) {
    mg::Intervention iv = mg::parse_patch(spec, dc.num_hidden_layers, dc.num_attention_heads);
    for (size_t b = 0; b < o.prompts.size(); ++b) {
      iv.row = static_cast<int64_t>(b);
      req.interventions.push_back(iv);
    }
  }
  // One progress line, refreshed at most twice a second (Slurm logs keep every \r).
  const auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  req.on_step = [&, t0](int64_t s, int64_t steps) mutable {
    const auto now = std::chrono::steady_clock::now();
    if (s != steps && now - last < std::chrono::milliseconds(500)) return;
    last = now;
    const double secs = std::chrono::duration<double>(now - t0).count();
    std::fprintf(stderr, "\rgenerate: step %lld/%lld, %.1f frames/s", static_cast<long long>(s),
                 static_cast<long long>(steps), secs > 0 ? s / secs : 0.0);
    if (s == steps) std::fprintf(stderr, "\n");
  };
  mg::GenerationResult res = model.generate(model.encode(o.prompts, "--prompt"), req);
  at::Tensor audio = model.decode_audio(res.codes);

  fs::create_directories(o.out);
  H5Output h5((fs::path(o.out) / "generation.h5").string());
  h5.write("codes", res.codes);
  h5.write("audio", audio);
  h5.attribute("model", o.model);
  h5.attribute("sample_rate", std::to_string(model.sample_rate()));
  for (size_t b = 0; b < o.prompts.size(); ++b) {
    h5.attribute("prompt_" + std::to_string(b), o.prompts[b]);
    mg::write_wav((fs::path(o.out) / ("prompt_" + std::to_string(b) + ".wav")).string(),
                  audio[static_cast<int64_t>(b)], model.sample_rate());
  }
  std::printf("generate: %zu prompt(s), %lld frames -> %s\n", o.prompts.size(),
              static_cast<long long>(frames), o.out.c_str());
  return 0;
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOpts>();
  CLI::App* sub = app.add_subcommand("generate", "Generate audio from text prompts");
  sub->add_option("--model", o->model, "MusicGen checkpoint folder (HF layout)")->required();
  sub->add_option("--prompt", o->prompts, "Text prompt (repeat for a batch)")->required();
  auto* dur = sub->add_option("--duration", o->duration, "Seconds of audio");
  auto* fr = sub->add_option("--frames", o->frames, "Code frames (50 per second)");
  dur->excludes(fr);
  auto* greedy = sub->add_flag("--greedy", o->greedy, "Argmax instead of sampling");
  sub->add_option("--top-k", o->top_k, "Top-k sampling (default 250)")->excludes(greedy);
  sub->add_option("--temperature", o->temperature, "Sampling temperature (default 1.0)")
      ->excludes(greedy);
  sub->add_option("--guidance", o->guidance, "Classifier-free guidance scale (default 3.0)");
  sub->add_option("--seed", o->seed_text, "Seed of the sampling noise (0 .. 2^63-1)");
  sub->add_option("--lens-layers", o->lens_layers, "DecoderLens: run only the first K layers");
  sub->add_option("--patch", o->patches,
                  "Intervention on every row: SITE:OP[=VALUE][@T0-T1][/both]\n"
                  "  SITE  layers.I.(self_attn|cross_attn|mlp|out) or "
                  "layers.I.(self_attn|cross_attn).head.H\n"
                  "  OP    zero | scale=X | add=FILE.safetensors:TENSOR | "
                  "replace=FILE.safetensors:TENSOR |\n"
                  "        adjust=FILE.safetensors:DESIRED:ORIGINAL\n"
                  "  @T0-T1 steps T0 <= s < T1 only; /both also the unconditional half");
  sub->add_option("--device", o->device, "cpu | cuda | cuda:N");
  sub->add_option("--dtype", o->dtype, "float32 | float16 | bfloat16");
  sub->add_option("--out", o->out, "Output folder (generation.h5, prompt_N.wav)")->required();
  set_runner(sub, [o, sub] {
    check_settings(*sub, *o);
    if (o->duration <= 0 && o->frames <= 0)
      throw mg::InputError("generate", "--duration", "give --duration SECONDS or --frames N");
    return run_generate(*o);
  });
}

}  // namespace mgcli
