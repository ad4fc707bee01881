// mg::MusicgenConfig against malformed config.json files: each must give an
// InputError that names the file and the field, and the writer must round-trip.
#include "musicgen/config.h"

#include <gtest/gtest.h>

#include <cstdint>
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

const std::string kFile = "ckpt/config.json";

std::string golden_path() { return std::string(MGSWEEP_TEST_DATA) + "/golden/tiny/config.json"; }

const json& golden() {
  static const json j = [] {
    std::ifstream in(golden_path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return json::parse(ss.str());
  }();
  return j;
}

// Parses `text`, expects an InputError naming kFile and exactly `field` (or, for an empty
// `field`, any field), returns the message.
std::string expect_error(const std::string& text, const std::string& field) {
  try {
    mg::MusicgenConfig::from_json_text(text, kFile);
  } catch (const mg::InputError& e) {
    EXPECT_EQ(e.file(), kFile) << e.what();
    if (!field.empty()) EXPECT_EQ(e.field(), field) << e.what();
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(kFile, 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    if (!field.empty()) EXPECT_NE(msg.find(field), std::string::npos) << msg;
    return msg;
  }
  ADD_FAILURE() << "no InputError; expected one naming '" << field << "'";
  return "";
}

std::string expect_error(const json& j, const std::string& field) {
  return expect_error(j.dump(), field);
}

// The golden config with section.key set to `v` (or erased when `erase`).
json with(const std::string& section, const std::string& key, const json& v, bool erase = false) {
  json j = golden();
  if (erase)
    j[section].erase(key);
  else
    j[section][key] = v;
  return j;
}

const std::vector<std::pair<std::string, std::vector<std::string>>> kRequired = {
    {"text_encoder", {"vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_heads"}},
    {"decoder",
     {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "ffn_dim",
      "num_codebooks"}},
    {"audio_encoder",
     {"sampling_rate", "num_filters", "upsampling_ratios", "hidden_size", "codebook_size"}},
};

TEST(Config, GoldenParses) {
  const mg::MusicgenConfig c = mg::MusicgenConfig::from_file(golden_path());
  EXPECT_EQ(c.source, golden_path());
  EXPECT_EQ(c.text.vocab_size, 160);
  EXPECT_EQ(c.text.d_model, 32);
  EXPECT_EQ(c.text.num_heads, 4);
  EXPECT_EQ(c.decoder.hidden_size, 64);
  EXPECT_EQ(c.decoder.num_hidden_layers, 3);
  EXPECT_EQ(c.decoder.num_attention_heads, 4);
  EXPECT_EQ(c.decoder.num_codebooks, 4);
  EXPECT_EQ(c.decoder.pad_token_id, 64);
  EXPECT_EQ(c.audio.upsampling_ratios, (std::vector<int64_t>{8, 5, 4, 4}));
  EXPECT_EQ(c.audio.hop_length(), 640);
  EXPECT_EQ(c.frame_rate(), 50);
}

void expect_same(const mg::MusicgenConfig& a, const mg::MusicgenConfig& b) {
  EXPECT_EQ(a.text.vocab_size, b.text.vocab_size);
  EXPECT_EQ(a.text.d_model, b.text.d_model);
  EXPECT_EQ(a.text.d_kv, b.text.d_kv);
  EXPECT_EQ(a.text.d_ff, b.text.d_ff);
  EXPECT_EQ(a.text.num_layers, b.text.num_layers);
  EXPECT_EQ(a.text.num_heads, b.text.num_heads);
  EXPECT_EQ(a.text.gated_ffn, b.text.gated_ffn);
  EXPECT_EQ(a.text.dense_act_fn, b.text.dense_act_fn);
  EXPECT_EQ(a.text.layer_norm_epsilon, b.text.layer_norm_epsilon);
  EXPECT_EQ(a.decoder.vocab_size, b.decoder.vocab_size);
  EXPECT_EQ(a.decoder.hidden_size, b.decoder.hidden_size);
  EXPECT_EQ(a.decoder.num_hidden_layers, b.decoder.num_hidden_layers);
  EXPECT_EQ(a.decoder.num_attention_heads, b.decoder.num_attention_heads);
  EXPECT_EQ(a.decoder.ffn_dim, b.decoder.ffn_dim);
  EXPECT_EQ(a.decoder.num_codebooks, b.decoder.num_codebooks);
  EXPECT_EQ(a.decoder.pad_token_id, b.decoder.pad_token_id);
  EXPECT_EQ(a.decoder.bos_token_id, b.decoder.bos_token_id);
  EXPECT_EQ(a.decoder.audio_channels, b.decoder.audio_channels);
  EXPECT_EQ(a.decoder.activation_function, b.decoder.activation_function);
  EXPECT_EQ(a.audio.sampling_rate, b.audio.sampling_rate);
  EXPECT_EQ(a.audio.upsampling_ratios, b.audio.upsampling_ratios);
  EXPECT_EQ(a.audio.codebook_size, b.audio.codebook_size);
  EXPECT_EQ(a.audio.codebook_dim, b.audio.codebook_dim);
  EXPECT_EQ(a.audio.use_causal_conv, b.audio.use_causal_conv);
  EXPECT_EQ(a.audio.pad_mode, b.audio.pad_mode);
  EXPECT_EQ(a.audio.trim_right_ratio, b.audio.trim_right_ratio);
}

TEST(Config, RoundTrip) {
  const mg::MusicgenConfig c = mg::MusicgenConfig::from_file(golden_path());
  expect_same(c, mg::MusicgenConfig::from_json_text(c.to_json_text(), kFile));
  // A gated T5 with an explicit activation other than the one "gated-gelu" implies.
  json j = golden();
  j["text_encoder"]["is_gated_act"] = true;
  j["text_encoder"]["dense_act_fn"] = "silu";
  j["text_encoder"]["layer_norm_epsilon"] = 1.2345678901234567e-7;
  const mg::MusicgenConfig g = mg::MusicgenConfig::from_json_text(j.dump(), kFile);
  EXPECT_TRUE(g.text.gated_ffn);
  EXPECT_EQ(g.text.dense_act_fn, "silu");
  expect_same(g, mg::MusicgenConfig::from_json_text(g.to_json_text(), kFile));
}

TEST(Config, NotJson) {
  for (const char* t : {"", "{", "not json", "{\"decoder\": }", "[1,2,3]", "\"config\"", "42",
                        "null", "{\"a\":1} {\"b\":2}"}) {
    const std::string msg = expect_error(std::string(t), "");
    EXPECT_NE(msg.find("JSON"), std::string::npos) << msg;
  }
  // Deep nesting must not overflow the stack.
  expect_error(std::string(100000, '[') + std::string(100000, ']'), "");
}

TEST(Config, FileMissing) {
  const std::string path = std::string(MGSWEEP_TEST_SCRATCH) + "/config_test/no/config.json";
  try {
    mg::MusicgenConfig::from_file(path);
    ADD_FAILURE() << "opened " << path;
  } catch (const mg::InputError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos) << e.what();
  }
}

TEST(Config, MissingSection) {
  for (const char* s : {"text_encoder", "decoder", "audio_encoder"}) {
    json j = golden();
    j.erase(s);
    expect_error(j, s);
    j[s] = json::array();  // present but not an object
    expect_error(j, s);
    j[s] = nullptr;
    expect_error(j, s);
  }
  expect_error(json::object(), "text_encoder");
}

TEST(Config, EachRequiredFieldMissing) {
  for (const auto& [section, keys] : kRequired)
    for (const auto& key : keys) {
      SCOPED_TRACE(section + "." + key);
      const std::string msg =
          expect_error(with(section, key, nullptr, /*erase=*/true), section + "." + key);
      EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
      // null counts as missing
      expect_error(with(section, key, nullptr), section + "." + key);
    }
}

TEST(Config, WrongTypes) {
  for (const auto& [section, keys] : kRequired)
    for (const auto& key : keys)
      for (const json& bad : {json("64"), json(64.5), json(true), json::object(), json(1e300)}) {
        if (key == "upsampling_ratios") continue;
        SCOPED_TRACE(section + "." + key + " = " + bad.dump());
        expect_error(with(section, key, bad), section + "." + key);
      }
  for (const json& bad : {json(8), json::array(), json("8,5"), json({8, "5"}), json({8, 5.5}),
                          json({8, 0}), json({8, -5}), json({json::array()})})
    expect_error(with("audio_encoder", "upsampling_ratios", bad),
                 "audio_encoder.upsampling_ratios");
  // Optional fields, when present, are type-checked too.
  expect_error(with("text_encoder", "layer_norm_epsilon", "1e-6"),
               "text_encoder.layer_norm_epsilon");
  expect_error(with("text_encoder", "is_gated_act", 1), "text_encoder.is_gated_act");
  expect_error(with("text_encoder", "feed_forward_proj", 3), "text_encoder.feed_forward_proj");
  expect_error(with("decoder", "pad_token_id", "64"), "decoder.pad_token_id");
  expect_error(with("decoder", "scale_embedding", "no"), "decoder.scale_embedding");
  expect_error(with("audio_encoder", "pad_mode", 0), "audio_encoder.pad_mode");
  expect_error(with("audio_encoder", "trim_right_ratio", json::array()),
               "audio_encoder.trim_right_ratio");
}

TEST(Config, ZeroAndNegativeSizes) {
  for (const auto& [section, keys] : kRequired)
    for (const auto& key : keys)
      for (int64_t bad : {0, -1, -64}) {
        if (key == "upsampling_ratios") continue;
        SCOPED_TRACE(section + "." + key + " = " + std::to_string(bad));
        const std::string msg = expect_error(with(section, key, bad), section + "." + key);
        EXPECT_NE(msg.find("positive"), std::string::npos) << msg;
      }
}

TEST(Config, IntegersOutOfRange) {
  // Past int64: must not wrap around into a negative or small size.
  expect_error(with("decoder", "hidden_size", json(uint64_t(18446744073709551615ull))),
               "decoder.hidden_size");
  expect_error(with("decoder", "pad_token_id", json(uint64_t(9223372036854775808ull))),
               "decoder.pad_token_id");
  // Sizes so large that products of them (heads * d_kv, the hop length) overflow.
  expect_error(with("text_encoder", "d_kv", json(int64_t(1) << 40)), "text_encoder.d_kv");
  expect_error(with("audio_encoder", "upsampling_ratios",
                    json({int64_t(1) << 30, int64_t(1) << 30, int64_t(1) << 30})),
               "audio_encoder.upsampling_ratios");
  // A number beyond a double (JSON could not write it back): refused, if not by the JSON
  // parser then by the field.
  std::string t = with("text_encoder", "layer_norm_epsilon", 0.5).dump();
  const std::string from = "\"layer_norm_epsilon\":0.5";
  ASSERT_NE(t.find(from), std::string::npos);
  t.replace(t.find(from), from.size(), "\"layer_norm_epsilon\":1e400");
  expect_error(t, "");
}

TEST(Config, HeadsMustDivideHidden) {
  const std::string msg =
      expect_error(with("decoder", "num_attention_heads", 3), "decoder.num_attention_heads");
  EXPECT_NE(msg.find("hidden_size"), std::string::npos) << msg;
  expect_error(with("decoder", "num_attention_heads", 128), "decoder.num_attention_heads");
}

TEST(Config, CodebookSizeMustMatchDecoderVocab) {
  json j = golden();
  j["audio_encoder"]["codebook_size"] = 128;
  const std::string msg = expect_error(j, "audio_encoder.codebook_size");
  EXPECT_NE(msg.find("decoder.vocab_size"), std::string::npos) << msg;
  j["audio_encoder"]["codebook_size"] = 64;
  j["decoder"]["vocab_size"] = 32;
  j["decoder"]["pad_token_id"] = 32;
  j["decoder"]["bos_token_id"] = 32;
  expect_error(j, "audio_encoder.codebook_size");
}

TEST(Config, OtherChecks) {
  expect_error(with("decoder", "audio_channels", 3), "decoder.audio_channels");
  json stereo = with("decoder", "audio_channels", 2);
  stereo["decoder"]["num_codebooks"] = 3;
  expect_error(stereo, "decoder.num_codebooks");
  expect_error(with("decoder", "activation_function", "tanh"), "decoder.activation_function");
  expect_error(with("text_encoder", "dense_act_fn", "swish"), "text_encoder.dense_act_fn");
  // A value with a newline is shown escaped: the message stays one line.
  const std::string msg =
      expect_error(with("decoder", "activation_function", "ge\nlu"), "decoder.activation_function");
  EXPECT_NE(msg.find("'ge\\x0alu'"), std::string::npos) << msg;
  expect_error(with("audio_encoder", "pad_mode", std::string(5000, 'p') + "\r"),
               "audio_encoder.pad_mode");
  expect_error(with("text_encoder", "relative_attention_num_buckets", 2),
               "text_encoder.relative_attention_num_buckets");
  expect_error(with("text_encoder", "relative_attention_max_distance", 8),
               "text_encoder.relative_attention_max_distance");
  expect_error(with("audio_encoder", "norm_type", "time_group_norm"), "audio_encoder.norm_type");
  expect_error(with("audio_encoder", "pad_mode", "zeros"), "audio_encoder.pad_mode");
  // The special token (BOS and the delay pattern's pad) indexes an embedding table with
  // vocab_size + 1 rows.
  expect_error(with("decoder", "pad_token_id", 65), "decoder.pad_token_id");
  expect_error(with("decoder", "bos_token_id", -1), "decoder.bos_token_id");
}

TEST(Config, WrittenFileParsesFromDisk) {
  const fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "config_test";
  fs::create_directories(dir);
  const std::string path = (dir / "config.json").string();
  const mg::MusicgenConfig c = mg::MusicgenConfig::from_file(golden_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << c.to_json_text();
  expect_same(c, mg::MusicgenConfig::from_file(path));
}

}  // namespace
