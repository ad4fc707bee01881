// mg::Weights against incomplete and inconsistent checkpoints: a missing tensor, a
// shape that disagrees with config.json, broken sharded indexes. Each must be an
// InputError naming the file and the tensor (or index field), never a crash.
#include "musicgen/weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "musicgen/errors.h"
#include "musicgen/musicgen.h"
#include "musicgen/safetensors.h"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const fs::path kGolden = fs::path(MGSWEEP_TEST_DATA) / "golden" / "tiny";
const std::string kFc1 = "decoder.model.decoder.layers.1.fc1.weight";  // [ffn_dim, hidden]

const mg::SafetensorsFile& golden_file() {
  static const mg::SafetensorsFile f((kGolden / "model.safetensors").string());
  return f;
}

// The golden tensors as writer items (borrowing the golden mapping), in file order.
std::vector<mg::StWriteItem> golden_items() {
  std::vector<mg::StWriteItem> out;
  const auto& f = golden_file();
  for (const mg::StTensor& t : f.header().tensors)
    out.push_back({t.name, t.dtype, t.shape, f.bytes(t), static_cast<size_t>(t.end - t.begin)});
  return out;
}

// A fresh SCRATCH/weights_test/NAME with the golden config.json and tokenizer.json
// (no weights).
fs::path fresh_folder(const std::string& name) {
  const fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "weights_test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(kGolden / "config.json", dir / "config.json");
  fs::copy_file(kGolden / "tokenizer.json", dir / "tokenizer.json");
  return dir;
}

// Runs `f`, expects an InputError whose file() contains `file` and whose field() is
// `field` ("*": any); returns the message.
std::string expect_input_error(const std::function<void()>& f, const std::string& file,
                               const std::string& field) {
  try {
    f();
  } catch (const mg::InputError& e) {
    EXPECT_NE(e.file().find(file), std::string::npos) << e.what();
    if (field != "*") EXPECT_EQ(e.field(), field) << e.what();
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return msg;
  }
  ADD_FAILURE() << "no InputError naming " << file << " / " << field;
  return "";
}

const auto kF32 = at::TensorOptions().dtype(at::kFloat);

TEST(Weights, GoldenFolder) {
  const mg::Weights w = mg::Weights::open_folder(kGolden.string());
  EXPECT_TRUE(w.has(kFc1));
  EXPECT_EQ(w.names().size(), golden_file().header().tensors.size());
  at::Tensor t = w.get(kFc1, {128, 64}, kF32);
  EXPECT_EQ(t.sizes(), (at::IntArrayRef{128, 64}));
  EXPECT_TRUE(t.is_contiguous());
}

TEST(Weights, GetMissingTensorNamesIt) {
  const mg::Weights w = mg::Weights::open_folder(kGolden.string());
  const std::string msg = expect_input_error([&] { w.get("decoder.no_such.weight", {1}, kF32); },
                                             "model.safetensors", "decoder.no_such.weight");
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  expect_input_error([&] { w.get_unchecked("nope", kF32); }, "model.safetensors", "nope");
  // get_alias names the canonical (first) name when none is present.
  expect_input_error(
      [&] {
        w.get_alias({"a.weight", "b.weight"}, {1}, kF32);
      },
      "model.safetensors", "a.weight");
}

TEST(Weights, GetWrongShapeNamesIt) {
  const mg::Weights w = mg::Weights::open_folder(kGolden.string());
  const std::string msg = expect_input_error(
      [&] {
        w.get(kFc1, {64, 128}, kF32);
      },
      "model.safetensors", kFc1);
  EXPECT_NE(msg.find("[128, 64]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[64, 128]"), std::string::npos) << msg;
  expect_input_error([&] { w.get(kFc1, {128, 64, 1}, kF32); }, "model.safetensors", kFc1);
}

TEST(Weights, CheckpointLackingATensor) {
  const fs::path dir = fresh_folder("missing_tensor");
  auto items = golden_items();
  const size_t before = items.size();
  items.erase(std::remove_if(items.begin(), items.end(),
                             [](const mg::StWriteItem& i) { return i.name == kFc1; }),
              items.end());
  ASSERT_EQ(items.size(), before - 1);
  mg::write_safetensors((dir / "model.safetensors").string(), items);
  const std::string msg = expect_input_error([&] { mg::MusicGen(dir.string(), mg::RunOptions{}); },
                                             "model.safetensors", kFc1);
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  const mg::Weights w = mg::Weights::open_folder(dir.string());
  expect_input_error([&] { w.get(kFc1, {128, 64}, kF32); }, "model.safetensors", kFc1);
}

TEST(Weights, ShapeDisagreesWithConfig) {
  const fs::path dir = fresh_folder("wrong_shape");
  auto items = golden_items();
  bool changed = false;
  for (auto& i : items)
    if (i.name == kFc1) {
      ASSERT_EQ(i.shape, (std::vector<int64_t>{128, 64}));
      i.shape = {64, 128};  // same bytes, transposed shape
      changed = true;
    }
  ASSERT_TRUE(changed);
  mg::write_safetensors((dir / "model.safetensors").string(), items);
  const std::string msg = expect_input_error([&] { mg::MusicGen(dir.string(), mg::RunOptions{}); },
                                             "model.safetensors", kFc1);
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[64, 128]"), std::string::npos) << msg;
}

TEST(Weights, TruncatedCheckpointInFolder) {
  const fs::path dir = fresh_folder("truncated");
  fs::copy_file(kGolden / "model.safetensors", dir / "model.safetensors");
  fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") - 100);
  const std::string msg = expect_input_error([&] { mg::MusicGen(dir.string(), mg::RunOptions{}); },
                                             "model.safetensors", "*");
  EXPECT_NE(msg.find(".data_offsets: range"), std::string::npos) << msg;
}

TEST(Weights, NoWeightsInFolder) {
  const fs::path dir = fresh_folder("no_weights");
  const std::string msg = expect_input_error([&] { mg::Weights::open_folder(dir.string()); },
                                             dir.string(), "model.safetensors");
  EXPECT_NE(msg.find("index.json"), std::string::npos) << msg;
}

// Two shards (tensors alternate) and model.safetensors.index.json.
fs::path sharded_folder(const std::string& name, json* index_out = nullptr) {
  const fs::path dir = fresh_folder(name);
  std::vector<mg::StWriteItem> a, b;
  json map = json::object();
  size_t n = 0;
  for (const auto& i : golden_items()) {
    const bool first = n++ % 2 == 0;
    (first ? a : b).push_back(i);
    map[i.name] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  mg::write_safetensors((dir / "model-00001-of-00002.safetensors").string(), a);
  mg::write_safetensors((dir / "model-00002-of-00002.safetensors").string(), b);
  json index = {{"metadata", {{"total_size", 0}}}, {"weight_map", map}};
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(1);
  if (index_out) *index_out = index;
  return dir;
}

void write_index(const fs::path& dir, const json& index) {
  std::ofstream(dir / "model.safetensors.index.json", std::ios::trunc) << index.dump(1);
}

TEST(Weights, ShardedGood) {
  const fs::path dir = sharded_folder("sharded_good");
  const mg::Weights w = mg::Weights::open_folder(dir.string());
  EXPECT_EQ(w.names().size(), golden_file().header().tensors.size());
  const mg::Weights g = mg::Weights::open_folder(kGolden.string());
  EXPECT_TRUE(at::equal(w.get(kFc1, {128, 64}, kF32), g.get(kFc1, {128, 64}, kF32)));
  // The whole model loads from shards.
  mg::MusicGen m(dir.string(), mg::RunOptions{});
  EXPECT_EQ(m.config().decoder.num_hidden_layers, 3);
}

TEST(Weights, ShardedIndexNamesAMissingShard) {
  json index;
  const fs::path dir = sharded_folder("sharded_missing_shard", &index);
  index["weight_map"][kFc1] = "model-00003-of-00002.safetensors";
  write_index(dir, index);
  const std::string msg = expect_input_error([&] { mg::Weights::open_folder(dir.string()); },
                                             "model.safetensors.index.json", "weight_map." + kFc1);
  EXPECT_NE(msg.find("model-00003-of-00002.safetensors"), std::string::npos) << msg;
  // A shard deleted after the index was written.
  const fs::path dir2 = sharded_folder("sharded_deleted_shard");
  fs::remove(dir2 / "model-00002-of-00002.safetensors");
  const std::string msg2 =
      expect_input_error([&] { mg::MusicGen(dir2.string(), mg::RunOptions{}); },
                         "model.safetensors.index.json", "*");  // the first tensor of the shard
  EXPECT_NE(msg2.find("weight_map."), std::string::npos) << msg2;
  EXPECT_NE(msg2.find("model-00002-of-00002.safetensors"), std::string::npos) << msg2;
}

TEST(Weights, ShardedTensorNotInItsShard) {
  json index;
  const fs::path dir = sharded_folder("sharded_wrong_shard", &index);
  const std::string shard = index["weight_map"][kFc1];
  const std::string other = shard.find("00001") != std::string::npos
                                ? "model-00002-of-00002.safetensors"
                                : "model-00001-of-00002.safetensors";
  index["weight_map"][kFc1] = other;
  write_index(dir, index);
  const std::string msg =
      expect_input_error([&] { mg::Weights::open_folder(dir.string()); }, other, kFc1);
  EXPECT_NE(msg.find("not in the shard"), std::string::npos) << msg;
  // A tensor the index lists that no shard holds.
  index["weight_map"][kFc1] = shard;
  index["weight_map"]["decoder.extra.weight"] = shard;
  write_index(dir, index);
  expect_input_error([&] { mg::Weights::open_folder(dir.string()); }, shard,
                     "decoder.extra.weight");
}

TEST(Weights, ShardedPathsOutsideTheFolder) {
  json index;
  const fs::path dir = sharded_folder("sharded_escape", &index);
  for (const char* shard : {"../sharded_good/model-00001-of-00002.safetensors", "/etc/passwd",
                            "sub/model.safetensors", "..", ""}) {
    json j = index;
    j["weight_map"][kFc1] = shard;
    write_index(dir, j);
    SCOPED_TRACE(shard);
    expect_input_error([&] { mg::Weights::open_folder(dir.string()); },
                       "model.safetensors.index.json", "weight_map." + kFc1);
  }
}

TEST(Weights, ShardedIndexMalformed) {
  const fs::path dir = sharded_folder("sharded_bad_index");
  for (const std::string& text :
       {std::string("not json"), std::string("[]"), std::string("{}"),
        std::string("{\"weight_map\": []}"), std::string("{\"weight_map\": \"x\"}"),
        std::string(100000, '[')}) {
    std::ofstream(dir / "model.safetensors.index.json", std::ios::trunc) << text;
    SCOPED_TRACE(text.substr(0, 40));
    expect_input_error([&] { mg::Weights::open_folder(dir.string()); },
                       "model.safetensors.index.json", "weight_map");
  }
  std::ofstream(dir / "model.safetensors.index.json", std::ios::trunc)
      << "{\"weight_map\": {\"" << kFc1 << "\": 3}}";
  expect_input_error([&] { mg::Weights::open_folder(dir.string()); },
                     "model.safetensors.index.json", "weight_map." + kFc1);
}

}  // namespace
