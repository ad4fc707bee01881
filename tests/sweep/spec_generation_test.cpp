// The job's [generation] settings follow the same rules, in the same words, as `mgsweep
// generate`'s flags (generation_settings.h); the job's prompts are held to the model's prompt
// limit (prompt_limit.h) when the job is loaded, at the key that makes them long.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "expect_error.h"
#include "musicgen/generation_settings.h"
#include "musicgen/random_model.h"
#include "sweep/spec.h"

namespace mg::sweep {
namespace {

namespace fs = std::filesystem;
using mgtest::error_of;

const std::string kRoot = std::string(MGSWEEP_TEST_DATA) + "/..";

std::string scratch_dir() {
  const std::string d = std::string(MGSWEEP_TEST_SCRATCH) + "/spec_generation_test";
  fs::create_directories(d);
  return d;
}

std::string abs(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

// jobs/demo.toml with `overrides` from line 2 on; returns the job file's path.
std::string demo_job(const std::string& name, const std::string& overrides) {
  const std::string p = scratch_dir() + "/" + name + ".toml";
  std::ofstream(p) << "include = [\"" + abs(kRoot + "/jobs/demo.toml") + "\"]\n" + overrides;
  return p;
}

std::string message(const SettingProblem& p) { return p.problem + " (" + p.fix + ")"; }

TEST(SpecGeneration, SettingsAreRefusedInTheCommandLinesWords) {
  struct Case {
    std::string key, value;
    SettingProblem expected;
  };
  const Case cases[] = {
      {"temperature", "0.0", check_temperature(0)},
      {"temperature", "nan", check_temperature(std::nan(""))},
      {"temperature", "inf", check_temperature(HUGE_VAL)},
      {"temperature", "-1", check_temperature(-1)},
      {"guidance", "nan", check_guidance(std::nan(""))},
      {"guidance", "inf", check_guidance(HUGE_VAL)},
      {"guidance", "-1", check_guidance(-1)},
      {"guidance", "1e39", check_guidance(1e39)},
      {"top_k", "-5", check_top_k(-5)},
      {"seed", "-1", check_seed(-1)},
      {"duration", "-1.0", check_duration(-1)},
      {"duration", "nan", check_duration(std::nan(""))},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key + " = " + c.value);
    ASSERT_FALSE(c.expected.ok());
    const std::string job =
        demo_job("gen_" + c.key, "[generation]\n" + c.key + " = " + c.value + "\n");
    const std::string err = error_of([&] { load_job(job); });
    EXPECT_EQ(err, job + ": line 3: generation." + c.key + ": " + message(c.expected));
  }
}

TEST(SpecGeneration, GoodSettingsLoad) {
  const JobSpec s = load_job(demo_job(
      "gen_good", "[generation]\ntemperature = 0.7\nguidance = 0\ntop_k = 0\nseed = 12\n"));
  EXPECT_EQ(s.generation.temperature, 0.7);
  EXPECT_EQ(s.generation.guidance, 0.0);
  EXPECT_EQ(s.generation.top_k, 0);
  EXPECT_EQ(s.generation.seed, 12u);
}

// A model folder the spec can read: the tiny shape's config.json and the golden tokenizer.
std::string model_dir(const std::string& name, const std::string& tokenizer_config) {
  const std::string dir = scratch_dir() + "/" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir + "/config.json") << named_shape("tiny").to_json_text();
  fs::copy_file(std::string(MGSWEEP_TEST_DATA) + "/golden/tiny/tokenizer.json",
                dir + "/tokenizer.json");
  if (!tokenizer_config.empty()) std::ofstream(dir + "/tokenizer_config.json") << tokenizer_config;
  return dir;
}

TEST(SpecGeneration, PromptsWithinTheLimitLoad) {
  const std::string dir = model_dir("model_512", R"({"model_max_length": 512})");
  const JobSpec s = load_job(demo_job("prompts_ok", "model = \"" + dir + "\"\n"));
  EXPECT_TRUE(s.model_checked);
}

TEST(SpecGeneration, TemplatePastTheLimitIsRefusedAtLoad) {
  const std::string dir = model_dir("model_8", R"({"model_max_length": 8})");
  const std::string err =
      error_of([&] { load_job(demo_job("prompts_8", "model = \"" + dir + "\"\n")); });
  // The template is the longest text of the demo's prompts: the error points at it, in the
  // included configs/prompt_template.toml.
  EXPECT_CONTAINS(err, "prompt_template.toml: line ");
  EXPECT_CONTAINS(err, ": prompts.template: prompt 0 of concept 'guitar'");
  EXPECT_CONTAINS(err, "tokens, more than the 8 that " + dir + "/tokenizer_config.json allows");
  EXPECT_CONTAINS(err, "shorten the prompt to at most 8 tokens");
}

TEST(SpecGeneration, LongVocabularyValueIsRefusedAtItsKey) {
  const std::string dir = model_dir("model_default", "");  // no tokenizer_config.json: 512
  std::string tempo;
  for (int i = 0; i < 600; ++i) tempo += "a ";
  const std::string job = demo_job(
      "prompts_vocab", "model = \"" + dir + "\"\n[prompts.vocab]\nTEMPO = [\"fast\", \"" + tempo +
                           "\", \"slow\", \"slow to medium\", \"medium to fast\"]\n");
  const std::string err = error_of([&] { load_job(job); });
  // TEMPO varies fastest: prompt 1 of the first concept is the first with the long value.
  EXPECT_CONTAINS(err, job + ": line 4: prompts.vocab.TEMPO[1]: prompt 1 of concept 'guitar'");
  EXPECT_CONTAINS(err, "tokens, more than the default limit of 512");
}

}  // namespace
}  // namespace mg::sweep
