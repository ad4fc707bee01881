// A tokenizer with more ids than the T5 embedding table has rows is refused when the model
// loads, naming tokenizer.json and both sizes (before: a LibTorch index error, with a stack
// trace, at the first prompt that used an id past the table).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "musicgen/errors.h"
#include "musicgen/musicgen.h"

namespace mg {
namespace {

namespace fs = std::filesystem;

const std::string kTiny = std::string(MGSWEEP_TEST_DATA) + "/golden/tiny";

// A copy of the golden checkpoint whose tokenizer.json has `extra` more pieces.
std::string copy_with_extra_vocab(const std::string& name, int extra) {
  const fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "tokenizer_vocab" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy_file(kTiny + "/" + f, dir / f);
  std::ifstream in(kTiny + "/tokenizer.json");
  nlohmann::json tok = nlohmann::json::parse(in);
  for (int i = 0; i < extra; ++i)
    tok["model"]["vocab"].push_back({"\u2581extra" + std::to_string(i), -20.0});
  std::ofstream(dir / "tokenizer.json") << tok.dump();
  return dir.string();
}

TEST(TokenizerVocab, LargerThanTheEmbeddingIsRefusedAtLoad) {
  const std::string dir = copy_with_extra_vocab("plus5", 5);
  try {
    MusicGen model(dir, RunOptions{});
    FAIL() << "loaded a tokenizer with 165 ids over a 160-row embedding";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_EQ(e.file(), (fs::path(dir) / "tokenizer.json").string());
    EXPECT_NE(m.find("has 165 ids"), std::string::npos) << m;
    EXPECT_NE(m.find("the 160 rows of the text encoder's embedding"), std::string::npos) << m;
    EXPECT_NE(m.find("text_encoder.vocab_size"), std::string::npos) << m;
  }
}

TEST(TokenizerVocab, AsLargeAsTheEmbeddingLoads) {
  // The golden tokenizer has exactly the embedding's 160 ids (and T5's real ones fewer: 32100
  // ids over 32128 rows); neither may be refused.
  const std::string dir = copy_with_extra_vocab("plus0", 0);
  MusicGen model(dir, RunOptions{});
  EXPECT_EQ(model.tokenizer().vocab_size(), 160u);
}

}  // namespace
}  // namespace mg
