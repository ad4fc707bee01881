// mgsweep make-model: a random MusicGen with real shapes in the HF layout.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "musicgen/random_model.h"

namespace mgcli {

void add_make_model_command(CLI::App& app) {
  struct Opts {
    std::string shape = "tiny";
    uint64_t seed = 0;
    std::string out;
    std::string dtype = "float32";
    bool stereo = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "make-model", "Write a random MusicGen (config.json, model.safetensors, tokenizer.json)");
  sub->add_option("--shape", o->shape, "tiny | small | medium | large")
      ->check(CLI::IsMember({"tiny", "small", "medium", "large"}));
  sub->add_option("--seed", o->seed, "Seed of the weights");
  sub->add_option("--out", o->out, "Output folder")->required();
  sub->add_flag("--stereo", o->stereo,
                "As musicgen-stereo-*: twice the codebooks, interleaved left/right");
  sub->add_option("--dtype", o->dtype, "Storage dtype: float32 | float16 | bfloat16")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16"}));
  set_runner(sub, [o] {
    const at::ScalarType st = o->dtype == "float16"    ? at::kHalf
                              : o->dtype == "bfloat16" ? at::kBFloat16
                                                       : at::kFloat;
    mg::write_random_model(mg::named_shape(o->shape, o->stereo), o->seed, o->out, st);
    std::printf("make-model: wrote a random '%s'%s MusicGen to %s\n", o->shape.c_str(),
                o->stereo ? " stereo" : "", o->out.c_str());
    return 0;
  });
}

}  // namespace mgcli
