// Differential test: mg::T5Tokenizer against the Hugging Face `tokenizers` library on
// the cases tests/tokenizer_diff/gen_tokenizer_cases.py wrote (ctest runs it first
// and sets MGSWEEP_TOKENIZER_CASES; see tests/tokenizer_diff/tests.cmake).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "musicgen/errors.h"
#include "musicgen/tokenizer.h"

namespace {

using json = nlohmann::json;

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out.size() > 160 ? out.substr(0, 160) + "..." : out;
}

std::string join(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size() && i < 40; ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() > 40 ? ", ...]" : "]");
}

bool allow_skip() {
  const char* v = std::getenv("MGSWEEP_ALLOW_SKIP");
  return v && std::string(v) == "1";
}

// Registered only by the ctest `tokenizer_diff_compare` (tests/CMakeLists.txt keeps it out
// of gtest discovery), which generates the cases first; anywhere else it fails rather than
// pass without comparing anything.
TEST(TokenizerDiff, MatchesHuggingFaceTokenizers) {
  const char* path = std::getenv("MGSWEEP_TOKENIZER_CASES");
  ASSERT_TRUE(path && *path) << "MGSWEEP_TOKENIZER_CASES is not set: run it as "
                                "`ctest --test-dir build -R tokenizer_diff`";
  if (!std::filesystem::exists(path)) {
    if (allow_skip()) GTEST_SKIP() << path << " was not generated (MGSWEEP_ALLOW_SKIP=1)";
    FAIL() << path << " was not generated: see the output of the ctest tokenizer_diff_generate "
           << "(is the python package `tokenizers` installed in .venv?)";
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  const json cases = json::parse(ss.str());
  ASSERT_FALSE(cases.at("files").empty()) << path << " holds no tokenizer files";
  size_t total = 0;
  for (const json& file : cases.at("files")) {
    const std::string name = file.at("name");
    const auto tok = mg::T5Tokenizer::from_file(file.at("path"));
    size_t equal = 0, shown = 0;
    std::vector<std::string> texts;
    std::vector<std::vector<int64_t>> want;
    for (const json& c : file.at("cases")) {
      texts.push_back(c.at("text"));
      want.push_back(c.at("ids").get<std::vector<int64_t>>());
      const auto got = tok.encode(texts.back());
      if (got == want.back()) {
        ++equal;
      } else if (shown++ < 10) {
        ADD_FAILURE() << name << ": \"" << printable(texts.back())
                      << "\"\n  tokenizers: " << join(want.back())
                      << "\n  mgsweep:    " << join(got);
      }
    }
    total += texts.size();
    std::printf("[tokenizer_diff] %s: %zu/%zu strings give the same ids (tokenizers %s)\n",
                name.c_str(), equal, texts.size(), cases.value("tokenizers_version", "?").c_str());
    EXPECT_EQ(equal, texts.size()) << name;

    // The batch path pads what encode() gives.
    texts.resize(std::min<size_t>(texts.size(), 64));
    const auto batch = tok.encode_batch(texts);
    for (size_t r = 0; r < texts.size(); ++r) {
      const auto cols = static_cast<size_t>(batch.cols);
      for (size_t k = 0; k < cols; ++k) {
        const bool real = k < want[r].size();
        ASSERT_EQ(batch.ids[r * cols + k], real ? want[r][k] : tok.pad_id()) << name << " " << r;
        ASSERT_EQ(batch.mask[r * cols + k], real ? 1 : 0) << name << " " << r;
      }
    }
  }
  EXPECT_GE(total, 4000u) << "too few cases: was the generator changed?";
}

}  // namespace
