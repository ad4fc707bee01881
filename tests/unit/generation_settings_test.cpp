// The generation settings' rules (generation_settings.h), shared by `mgsweep generate` and the
// job's [generation] table, and the prompt limit (prompt_limit.h) against the tiny tokenizer.
#include "musicgen/generation_settings.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "musicgen/errors.h"
#include "musicgen/prompt_limit.h"
#include "musicgen/tokenizer.h"

namespace mg {
namespace {

namespace fs = std::filesystem;

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
const std::string kTiny = std::string(MGSWEEP_TEST_DATA) + "/golden/tiny";

TEST(GenerationSettings, TemperatureMustBeFiniteAndPositive) {
  for (double bad : {0.0, -0.0, -1.0, kNan, kInf, -kInf}) {
    SCOPED_TRACE(bad);
    const SettingProblem p = check_temperature(bad);
    EXPECT_FALSE(p.ok());
    EXPECT_EQ(p.problem, "must be a finite number above 0");
    EXPECT_NE(p.fix.find("1.0"), std::string::npos);
  }
  for (double good : {1e-3, 1.0, 2.5}) EXPECT_TRUE(check_temperature(good).ok()) << good;
}

TEST(GenerationSettings, GuidanceMustBeFiniteNonNegativeAndAFloat) {
  for (double bad : {-1.0, -1e-9, kNan, kInf, 1e39}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(check_guidance(bad).ok());
    EXPECT_NE(check_guidance(bad).problem.find("must be a finite number from 0 to 3.4e38"),
              std::string::npos);
  }
  // 0 is the unconditional model alone, 1 the conditional: both are meaningful.
  for (double good : {0.0, 1.0, 3.0, 3e38}) EXPECT_TRUE(check_guidance(good).ok()) << good;
}

TEST(GenerationSettings, TopKSeedDurationFrames) {
  EXPECT_EQ(check_top_k(-5).problem, "must be >= 0");
  EXPECT_EQ(check_top_k(-5).fix.rfind("0 turns the top-k filter off", 0), 0u);
  EXPECT_TRUE(check_top_k(0).ok());
  EXPECT_TRUE(check_top_k(250).ok());
  EXPECT_EQ(check_seed(-1).problem, "must be >= 0");
  EXPECT_TRUE(check_seed(0).ok());
  EXPECT_TRUE(check_seed(std::numeric_limits<int64_t>::max()).ok());
  for (double bad : {0.0, -1.0, kNan, kInf}) EXPECT_FALSE(check_duration(bad).ok()) << bad;
  EXPECT_TRUE(check_duration(0.02).ok());
  EXPECT_FALSE(check_frames(0).ok());
  EXPECT_TRUE(check_frames(1).ok());
}

std::string scratch(const std::string& name) {
  const fs::path d = fs::path(MGSWEEP_TEST_SCRATCH) / "prompt_limit" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

std::string words(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "a ";
  return s;
}

TEST(PromptLimit, DefaultWithoutTokenizerConfig) {
  const PromptLimit lim = read_prompt_limit(scratch("none"));
  EXPECT_EQ(lim.max_tokens, 512);
  EXPECT_FALSE(lim.from_config);
  EXPECT_NE(lim.describe().find("default limit of 512"), std::string::npos);
}

TEST(PromptLimit, ReadsModelMaxLength) {
  const std::string d = scratch("small");
  std::ofstream(d + "/tokenizer_config.json") << R"({"model_max_length": 7, "extra_ids": 0})";
  const PromptLimit lim = read_prompt_limit(d);
  EXPECT_EQ(lim.max_tokens, 7);
  EXPECT_TRUE(lim.from_config);
  EXPECT_NE(lim.describe().find("the 7 that " + d + "/tokenizer_config.json allows"),
            std::string::npos);
}

TEST(PromptLimit, TransformersNoLimitPlaceholderIsTheDefault) {
  const std::string d = scratch("huge");
  std::ofstream(d + "/tokenizer_config.json")
      << R"({"model_max_length": 1000000000000000019884624838656})";
  EXPECT_EQ(read_prompt_limit(d).max_tokens, 512);
  EXPECT_FALSE(read_prompt_limit(d).from_config);
}

TEST(PromptLimit, BadConfigNamesTheFile) {
  const std::string d = scratch("bad");
  std::ofstream(d + "/tokenizer_config.json") << R"({"model_max_length": -3})";
  try {
    read_prompt_limit(d);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), d + "/tokenizer_config.json");
    EXPECT_EQ(e.field(), "model_max_length");
  }
  std::ofstream(d + "/tokenizer_config.json") << "{ not json";
  EXPECT_THROW(read_prompt_limit(d), InputError);
}

TEST(PromptLimit, CountsTokensAndRefusesPastTheLimit) {
  const T5Tokenizer tok = T5Tokenizer::from_file(kTiny + "/tokenizer.json");
  PromptLimit lim;
  lim.max_tokens = 6;
  lim.config_path = "cfg.json";
  lim.from_config = true;
  // "a" x5 is five pieces plus </s>: exactly at the limit.
  EXPECT_EQ(check_prompt_length(tok, lim, "a a a a a", "--prompt", "prompt 0"), 6);
  try {
    check_prompt_length(tok, lim, "a a a a a a", "--prompt", "prompt 0");
    FAIL() << "no error";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("--prompt: prompt 0: has 7 tokens, more than the 6 that cfg.json allows"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("shorten the prompt to at most 6 tokens"), std::string::npos) << m;
  }
}

TEST(PromptLimit, HugePromptIsRefusedFromItsFirstBytes) {
  const T5Tokenizer tok = T5Tokenizer::from_file(kTiny + "/tokenizer.json");
  const PromptLimit lim;  // 512: 32768 bytes are tokenized at most
  int64_t count = 0;
  const SettingProblem p = prompt_length_problem(tok, lim, words(50000), &count);
  EXPECT_FALSE(p.ok());
  EXPECT_EQ(count, 16385);  // of the first 32768 bytes: 16384 "a" and </s>
  EXPECT_NE(p.problem.find("is 100000 bytes, and its first 32768 bytes alone are 16385 tokens"),
            std::string::npos)
      << p.problem;
  // Within the bytes but past the tokens: the exact count.
  EXPECT_NE(prompt_length_problem(tok, lim, words(600)).problem.find("has 601 tokens"),
            std::string::npos);
  EXPECT_TRUE(prompt_length_problem(tok, lim, words(511)).ok());
}

TEST(PromptLimit, CutsTheHeadAtACharacterBoundary) {
  const T5Tokenizer tok = T5Tokenizer::from_file(kTiny + "/tokenizer.json");
  PromptLimit lim;
  lim.max_tokens = 1;  // 64 bytes are read
  // 2-byte characters from byte 1: byte 64 is the middle of one; cutting there would be an
  // invalid-UTF-8 error instead of the length's.
  std::string text = "x";
  for (int i = 0; i < 100; ++i) text += "\xc3\xa9";
  const SettingProblem p = prompt_length_problem(tok, lim, text);
  EXPECT_FALSE(p.ok());
  EXPECT_NE(p.problem.find("is 201 bytes"), std::string::npos) << p.problem;
}

}  // namespace
}  // namespace mg
