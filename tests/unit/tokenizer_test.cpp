// T5Tokenizer against the golden fixture (ids python sentencepiece + T5Tokenizer
// produced, see tests/golden/tiny/README.md), malformed files, and the
// synthetic tokenizer writer.
#include "musicgen/tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "musicgen/errors.h"

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

const std::string kTiny = std::string(MGSWEEP_TEST_DATA) + "/golden/tiny";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const json& golden_ids() {
  static const json j = json::parse(read_file(kTiny + "/tokenizer_ids.json"));
  return j;
}

const mg::T5Tokenizer& tiny() {
  static const mg::T5Tokenizer t = mg::T5Tokenizer::from_file(kTiny + "/tokenizer.json");
  return t;
}

std::vector<int64_t> ids_of(const json& j) { return j.get<std::vector<int64_t>>(); }

TEST(Tokenizer, GoldenSpecialIds) {
  const json& spm = golden_ids()["spiece.model"];
  EXPECT_EQ(tiny().pad_id(), spm["pad_id"].get<int64_t>());
  EXPECT_EQ(tiny().eos_id(), spm["eos_id"].get<int64_t>());
  EXPECT_EQ(tiny().unk_id(), spm["unk_id"].get<int64_t>());
  EXPECT_EQ(tiny().vocab_size(), spm["vocab_size"].get<size_t>());
}

TEST(Tokenizer, GoldenPrompts) {
  for (const json& p : golden_ids()["prompts"]) {
    const std::string text = p["text"];
    EXPECT_EQ(tiny().encode(text), ids_of(p["t5_ids_with_eos"])) << text;
    EXPECT_EQ(tiny().encode(text).size(), p["length_with_eos"].get<size_t>()) << text;
  }
}

TEST(Tokenizer, GoldenExtraStrings) {
  size_t n = 0;
  for (const json& e : golden_ids()["extra_strings"]) {
    const std::string text = e["text"];
    EXPECT_EQ(tiny().encode(text), ids_of(e["ids_with_eos"])) << text;
    ++n;
  }
  EXPECT_GE(n, 12u);
  EXPECT_EQ(tiny().encode(""), ids_of(golden_ids()["empty_string_ids"]));
}

TEST(Tokenizer, GoldenBatchPaddingAndMask) {
  std::vector<std::string> prompts;
  for (const json& p : golden_ids()["prompts"]) prompts.push_back(p["text"]);
  const auto batch = tiny().encode_batch(prompts);
  const json& want = golden_ids()["batch_padded"];
  const auto rows = want["input_ids"].size(), cols = want["input_ids"][0].size();
  ASSERT_EQ(batch.rows, static_cast<int64_t>(rows));
  ASSERT_EQ(batch.cols, static_cast<int64_t>(cols));
  std::vector<int64_t> ids, mask;
  for (size_t r = 0; r < rows; ++r) {
    for (int64_t v : ids_of(want["input_ids"][r])) ids.push_back(v);
    for (int64_t v : ids_of(want["attention_mask"][r])) mask.push_back(v);
  }
  EXPECT_EQ(batch.ids, ids);
  EXPECT_EQ(batch.mask, mask);
}

TEST(Tokenizer, EmptyBatch) {
  const auto batch = tiny().encode_batch({});
  EXPECT_EQ(batch.rows, 0);
  EXPECT_EQ(batch.cols, 0);
  EXPECT_TRUE(batch.ids.empty());
}

TEST(Tokenizer, SpecialTokensInTextAreKept) {
  // HF cuts added tokens out of the raw text before normalizing.
  EXPECT_EQ(tiny().encode("</s>"), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(tiny().encode("a<pad>"), (std::vector<int64_t>{6, 0, 1}));
}

TEST(Tokenizer, RejectsInvalidUtf8Text) {
  EXPECT_THROW(tiny().encode(std::string("ab\xff", 3)), mg::InputError);
  EXPECT_THROW(tiny().encode(std::string("\xed\xa0\x80", 3)), mg::InputError);  // a surrogate
  EXPECT_THROW(tiny().encode(std::string("\xc0\xaf", 2)), mg::InputError);      // overlong
}

// Loads `text` and expects an InputError naming the origin and `field`.
void expect_rejected(const std::string& text, const std::string& field) {
  try {
    mg::T5Tokenizer::from_json_text(text, "bad/tokenizer.json");
    ADD_FAILURE() << "loaded: " << text.substr(0, 200);
  } catch (const mg::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("bad/tokenizer.json"), std::string::npos) << e.what();
    EXPECT_EQ(e.file(), "bad/tokenizer.json");
    EXPECT_NE(e.field().find(field), std::string::npos)
        << "field '" << e.field() << "' in " << e.what();
  }
}

json golden_json() { return json::parse(read_file(kTiny + "/tokenizer.json")); }

// A sentencepiece precompiled_charsmap (base64) whose 256-unit double-array
// trie maps the one key "\x01" to the string at `value` of the blob "a\0".
std::string charsmap_x01(uint32_t value) {
  std::vector<uint32_t> units(256, 0);
  units[1] = 1 | (1u << 8) | (3u << 10);  // label 1, has a leaf, children at 1 ^ 3 = 2
  units[2] = (1u << 31) | value;          // the leaf's value
  std::string blob;
  const auto put = [&](uint32_t v) {
    for (int k = 0; k < 4; ++k) blob += static_cast<char>((v >> (8 * k)) & 0xFF);
  };
  put(static_cast<uint32_t>(units.size() * 4));
  for (uint32_t u : units) put(u);
  blob += std::string("a\0", 2);
  static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < blob.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(blob[i]) << 16;
    if (i + 1 < blob.size()) v |= static_cast<uint8_t>(blob[i + 1]) << 8;
    if (i + 2 < blob.size()) v |= static_cast<uint8_t>(blob[i + 2]);
    for (size_t k = 0; k < 4; ++k)
      out += i + k <= blob.size() ? kB64[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

TEST(TokenizerErrors, MalformedFilesThrowInputError) {
  expect_rejected("not json", "");
  expect_rejected("[1, 2]", "");
  expect_rejected("{}", "model");
  expect_rejected(R"({"model": {"type": "Unigram"}})", "model.vocab");
  expect_rejected(R"({"model": {"type": "Unigram", "vocab": {}}})", "model.vocab");
  expect_rejected(R"({"model": {"type": "Unigram", "vocab": []}})", "model.vocab");
  expect_rejected(R"({"model": {"type": "Unigram", "vocab": [["a"]]}})", "model.vocab[0]");
  expect_rejected(R"({"model": {"type": "Unigram", "vocab": [["a", "x"]]}})", "model.vocab[0][1]");
  expect_rejected(R"({"model": {"type": "Unigram", "vocab": [[1, 0.0]]}})", "model.vocab[0][0]");
  expect_rejected(R"({"model": {"type": "Unigram", "vocab": [["a", 0]], "unk_id": 3}})",
                  "model.unk_id");
  expect_rejected(R"({"model": {"type": "Unigram", "vocab": [["a", 0]], "unk_id": -1}})",
                  "model.unk_id");
  expect_rejected(R"({"model": {"type": "BPE", "vocab": {}, "merges": []}})", "model.type");
  expect_rejected(R"({"version": "2.0", "model": {"vocab": [["a", 0]]}})", "version");

  json j = golden_json();
  j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "not*base64!";
  expect_rejected(j.dump(), "normalizer.normalizers[0].precompiled_charsmap");
  j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "AAAA";  // empty trie
  expect_rejected(j.dump(), "normalizer.normalizers[0].precompiled_charsmap");
  // A trie value past the end of its strings (HF loads it, then panics on "\x01").
  j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = charsmap_x01(1000);
  expect_rejected(j.dump(), "normalizer.normalizers[0].precompiled_charsmap");
  // A trie that declares more units than the data has.
  j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "AAEAAAAAAAA=";
  expect_rejected(j.dump(), "normalizer.normalizers[0].precompiled_charsmap");
  j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = 42;
  expect_rejected(j.dump(), "precompiled_charsmap");

  j = golden_json();
  j["normalizer"]["normalizers"][1] = {{"type", "NFKC"}};
  expect_rejected(j.dump(), "normalizer.normalizers[1].type");
  j = golden_json();
  j["normalizer"]["normalizers"][2]["pattern"] = {{"Regex", "\\s+(?=x)"}};
  expect_rejected(j.dump(), "normalizer.normalizers[2].pattern.Regex");
  j = golden_json();
  j["normalizer"]["normalizers"][1].erase("strip_right");
  expect_rejected(j.dump(), "normalizer.normalizers[1].strip_right");
  j = golden_json();
  j["pre_tokenizer"]["replacement"] = "ab";
  expect_rejected(j.dump(), "pre_tokenizer.replacement");
  j = golden_json();
  j["pre_tokenizer"]["prepend_scheme"] = "sometimes";
  expect_rejected(j.dump(), "pre_tokenizer.prepend_scheme");
  j = golden_json();
  j["pre_tokenizer"] = {{"type", "ByteLevel"}};
  expect_rejected(j.dump(), "pre_tokenizer.type");
  j = golden_json();
  j["post_processor"]["special_tokens"].erase("</s>");
  expect_rejected(j.dump(), "post_processor.special_tokens");
  j = golden_json();
  j["post_processor"]["special_tokens"]["</s>"]["ids"] = {160};  // past the vocabulary
  expect_rejected(j.dump(), "post_processor.special_tokens");
  j = golden_json();
  j["added_tokens"][1]["content"] = 7;
  expect_rejected(j.dump(), "added_tokens[1].content");
}

TEST(Tokenizer, HandMadeCharsMap) {
  // "\x01" is normalized to "a"; ids checked with HF tokenizers 0.23.3.
  json j = golden_json();
  j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = charsmap_x01(0);
  const auto t = mg::T5Tokenizer::from_json_text(j.dump(), "handmade.json");
  EXPECT_EQ(t.encode("\x01"), (std::vector<int64_t>{6, 1}));
  EXPECT_EQ(t.encode("b\x01\x01 c"), (std::vector<int64_t>{47, 35, 35, 3, 157, 1}));
  EXPECT_EQ(t.encode("\x02"), (std::vector<int64_t>{3, 2, 1}));  // not in the map: <unk>
}

TEST(TokenizerErrors, MissingFileNamesThePath) {
  try {
    mg::T5Tokenizer::from_file("/nonexistent/dir/tokenizer.json");
    FAIL();
  } catch (const mg::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/tokenizer.json"), std::string::npos);
  }
}

TEST(TokenizerErrors, TruncatedGoldenFileNeverCrashes) {
  // Every prefix of the real file (and a few byte flips) either loads or throws InputError.
  const std::string text = read_file(kTiny + "/tokenizer.json");
  for (size_t n = 0; n < text.size(); n += 997) {
    try {
      mg::T5Tokenizer::from_json_text(text.substr(0, n), "cut.json");
    } catch (const mg::InputError&) {
    }
  }
}

TEST(TokenizerSynthetic, RoundTrips) {
  const fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "tokenizer_synthetic";
  fs::create_directories(dir);
  for (int64_t n : {4, 200, 32128}) {
    const std::string path = (dir / ("tokenizer_" + std::to_string(n) + ".json")).string();
    mg::write_synthetic_t5_tokenizer_json(path, n);
    const auto t = mg::T5Tokenizer::from_file(path);
    EXPECT_EQ(t.vocab_size(), static_cast<size_t>(n));
    EXPECT_EQ(t.pad_id(), 0);
    EXPECT_EQ(t.eos_id(), 1);
    EXPECT_EQ(t.unk_id(), 2);
    const auto ids =
        t.encode("Compose a happy rock piece, with a guitar melody. Use a fast tempo.");
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids.back(), 1);
    for (int64_t id : ids) EXPECT_LT(id, n);
    if (n == 32128) {  // a real-sized vocabulary covers English without <unk>
      for (int64_t id : ids) EXPECT_NE(id, 2);
      EXPECT_LT(ids.size(), 20u);
    }
  }
  EXPECT_THROW(mg::write_synthetic_t5_tokenizer_json((dir / "x.json").string(), 2), mg::InputError);
}

}  // namespace
