// mg::parse_patch (`generate --patch`): good specs parse to the right fields, bad
// ones throw an InputError that mentions --patch.
#include "musicgen/patch_spec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "musicgen/errors.h"
#include "musicgen/safetensors.h"

namespace {

namespace fs = std::filesystem;
constexpr int64_t kLayers = 4, kHeads = 4;

// SCRATCH/patch_spec_test/values.PID.safetensors: vec [8], desired [3, 8], original [3, 8],
// cube [2, 2, 8], scalar [], empty [0, 8]. One file per process: ctest -j runs each test in
// its own process, and two writers of one file race on its temp-file rename.
const std::string& value_file() {
  static const std::string path = [] {
    const fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "patch_spec_test";
    fs::create_directories(dir);
    const std::string p =
        (dir / ("values." + std::to_string(::getpid()) + ".safetensors")).string();
    static std::vector<float> vec(8), desired(24), original(24), cube(32), scalar(1, 2.0f);
    for (size_t i = 0; i < vec.size(); ++i) vec[i] = float(i);
    for (size_t i = 0; i < desired.size(); ++i) desired[i] = float(i) * 0.5f;
    for (size_t i = 0; i < original.size(); ++i) original[i] = -float(i);
    mg::write_safetensors(p, {{"vec", mg::StDtype::F32, {8}, vec.data(), 32},
                              {"desired", mg::StDtype::F32, {3, 8}, desired.data(), 96},
                              {"original", mg::StDtype::F32, {3, 8}, original.data(), 96},
                              {"cube", mg::StDtype::F32, {2, 2, 8}, cube.data(), 128},
                              {"scalar", mg::StDtype::F32, {}, scalar.data(), 4},
                              {"empty", mg::StDtype::F32, {0, 8}, nullptr, 0}});
    return p;
  }();
  return path;
}

mg::Intervention parse(const std::string& spec) { return mg::parse_patch(spec, kLayers, kHeads); }

TEST(PatchSpec, Scale) {
  const mg::Intervention iv = parse("layers.1.mlp:scale=0.5");
  EXPECT_EQ(iv.site.layer, 1);
  EXPECT_EQ(iv.site.kind, mg::SiteKind::Mlp);
  EXPECT_EQ(iv.op, mg::InterventionOp::Scale);
  EXPECT_DOUBLE_EQ(iv.factor, 0.5);
  EXPECT_TRUE(iv.window.is_all());
  EXPECT_FALSE(iv.both_halves);
  EXPECT_EQ(iv.row, 0);
  EXPECT_FALSE(iv.desired.defined());
  EXPECT_DOUBLE_EQ(parse("layers.0.out:scale=-2e-1").factor, -0.2);
}

TEST(PatchSpec, ZeroWithWindow) {
  const mg::Intervention iv = parse("layers.3.self_attn.head.2:zero@10-50");
  EXPECT_EQ(iv.site.layer, 3);
  EXPECT_EQ(iv.site.kind, mg::SiteKind::SelfAttnHead);
  EXPECT_EQ(iv.site.head, 2);
  EXPECT_EQ(iv.op, mg::InterventionOp::Zero);
  EXPECT_EQ(iv.window.t0, 10);
  EXPECT_EQ(iv.window.t1, 50);
  EXPECT_TRUE(iv.window.contains(10));
  EXPECT_FALSE(iv.window.contains(50));
  EXPECT_FALSE(iv.both_halves);
  const mg::Intervention b = parse("layers.2.cross_attn:zero@0-1/both");
  EXPECT_EQ(b.site.kind, mg::SiteKind::CrossAttn);
  EXPECT_TRUE(b.both_halves);
  EXPECT_EQ(b.window.t0, 0);
  EXPECT_EQ(b.window.t1, 1);
}

TEST(PatchSpec, AddFromFile) {
  const mg::Intervention iv = parse("layers.0.out:add=" + value_file() + ":vec/both");
  EXPECT_EQ(iv.site.kind, mg::SiteKind::LayerOut);
  EXPECT_EQ(iv.op, mg::InterventionOp::Add);
  EXPECT_TRUE(iv.both_halves);
  ASSERT_TRUE(iv.desired.defined());
  EXPECT_EQ(iv.desired.sizes(), (at::IntArrayRef{8}));
  EXPECT_EQ(iv.desired.scalar_type(), at::kFloat);
  EXPECT_FLOAT_EQ(iv.desired[7].item<float>(), 7.0f);
  EXPECT_FALSE(iv.original.defined());
  const mg::Intervention r = parse("layers.1.mlp:replace=" + value_file() + ":desired@2-4");
  EXPECT_EQ(r.op, mg::InterventionOp::Replace);
  EXPECT_EQ(r.desired.sizes(), (at::IntArrayRef{3, 8}));
  EXPECT_EQ(r.window.t0, 2);
}

TEST(PatchSpec, AdjustWithTwoTensors) {
  const mg::Intervention iv =
      parse("layers.2.self_attn:adjust=" + value_file() + ":desired:original@1-3");
  EXPECT_EQ(iv.op, mg::InterventionOp::Adjust);
  ASSERT_TRUE(iv.desired.defined());
  ASSERT_TRUE(iv.original.defined());
  EXPECT_EQ(iv.desired.sizes(), (at::IntArrayRef{3, 8}));
  EXPECT_FLOAT_EQ(iv.desired[1][0].item<float>(), 4.0f);
  EXPECT_FLOAT_EQ(iv.original[1][0].item<float>(), -8.0f);
  EXPECT_EQ(iv.window.t0, 1);
  EXPECT_EQ(iv.window.t1, 3);
}

TEST(PatchSpec, BadSpecsThrowMentioningPatch) {
  const std::string f = value_file();
  const std::string missing =
      std::string(MGSWEEP_TEST_SCRATCH) + "/patch_spec_test/nope.safetensors";
  const std::vector<std::string> bad = {
      // missing / unknown op
      "layers.1.mlp",
      "layers.1.mlp:",
      "nonsense",
      "",
      ":zero",
      "layers.1.mlp:multiply",
      "layers.1.mlp:Zero",
      "layers.1.mlp:scale",
      "layers.1.mlp:zero=1",
      // bad numbers
      "layers.1.mlp:scale=abc",
      "layers.1.mlp:scale=",
      "layers.1.mlp:scale=0.5x",
      "layers.1.mlp:scale=nan",
      "layers.1.mlp:scale=inf",
      "layers.1.mlp:scale=1e999",
      // bad windows
      "layers.1.mlp:zero@5-2",
      "layers.1.mlp:zero@5-5",
      "layers.1.mlp:zero@x-3",
      "layers.1.mlp:zero@3-x",
      "layers.1.mlp:zero@3",
      "layers.1.mlp:zero@-3",
      "layers.1.mlp:zero@3-",
      "layers.1.mlp:zero@",
      "layers.1.mlp:zero@-1-3",
      "layers.1.mlp:zero@0-99999999999999999999",
      // bad sites
      "layers.99.mlp:zero",
      "layers.1.self_attn.head.9:zero",
      "layers.1.mlp.head.0:zero",
      "layers.x.mlp:zero",
      // add/replace/adjust without a usable file or tensor
      "layers.1.mlp:add",
      "layers.1.mlp:add=",
      "layers.1.mlp:add=" + f,
      "layers.1.mlp:add=" + f + ":",
      "layers.1.mlp:add=:vec",
      "layers.1.mlp:add=" + missing + ":vec",
      "layers.1.mlp:add=" + f + ":nope",
      "layers.1.mlp:replace=" + f + ":cube",
      "layers.1.mlp:add=" + f + ":scalar",
      "layers.1.mlp:add=" + f + ":empty",
      "layers.1.mlp:add=" + f + ":vec:vec",
      "layers.1.mlp:adjust=" + f + ":desired",
      "layers.1.mlp:adjust=" + f + ":desired:nope",
      // the value file is not a safetensors file
      "layers.1.mlp:add=" + std::string(MGSWEEP_TEST_DATA) + "/golden/tiny/config.json:vec",
      "layers.1.mlp:add=" + std::string(MGSWEEP_TEST_SCRATCH) + ":vec",
  };
  for (const std::string& spec : bad) {
    try {
      parse(spec);
      ADD_FAILURE() << "parsed '" << spec << "'";
    } catch (const mg::InputError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("--patch"), std::string::npos) << spec << " -> " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

TEST(PatchSpec, MessagesNameTheProblem) {
  auto msg = [](const std::string& spec) {
    try {
      parse(spec);
    } catch (const mg::InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(msg("layers.1.mlp:zero@5-2").find("@5-2"), std::string::npos);
  EXPECT_NE(msg("layers.1.mlp:multiply").find("multiply"), std::string::npos);
  EXPECT_NE(msg("layers.99.mlp:zero").find("layers.99.mlp"), std::string::npos);
  const std::string f = value_file();
  EXPECT_NE(msg("layers.1.mlp:add=" + f + ":nope").find("'nope'"), std::string::npos);
  EXPECT_NE(msg("layers.1.mlp:add=" + f + ":cube").find("3 dimensions"), std::string::npos);
  const std::string missing = msg("layers.1.mlp:add=/no/such/file.safetensors:vec");
  EXPECT_NE(missing.find("/no/such/file.safetensors"), std::string::npos) << missing;
  EXPECT_NE(missing.find("does not exist"), std::string::npos) << missing;
}

}  // namespace
