// mg::parse_patch_syntax, the torch-free half of `--patch` (the tensors are loaded by
// mg::parse_patch, tests/model/patch_spec_test.cpp): fields, and errors that stay one short
// line however long the flag (found by fuzz_patch_spec: a 1.5 KB spec of control bytes gave
// a message of over 4 KB, the spec quoted in full and every byte escaped).
#include "musicgen/patch_syntax.h"

#include <gtest/gtest.h>

#include <string>

#include "musicgen/errors.h"

namespace {

std::string error_of(const std::string& spec) {
  try {
    mg::parse_patch_syntax(spec, 4, 4);
  } catch (const mg::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(PatchSyntax, Fields) {
  const mg::PatchSyntax a =
      mg::parse_patch_syntax("layers.2.self_attn:adjust=m.safetensors:d:o@1-3/both", 4, 4);
  EXPECT_EQ(a.site.name(), "layers.2.self_attn");
  EXPECT_EQ(a.op, mg::InterventionOp::Adjust);
  EXPECT_EQ(a.file, "m.safetensors");
  EXPECT_EQ(a.desired, "d");
  EXPECT_EQ(a.original, "o");
  EXPECT_EQ(a.window.t0, 1);
  EXPECT_EQ(a.window.t1, 3);
  EXPECT_TRUE(a.both_halves);
  EXPECT_DOUBLE_EQ(mg::parse_patch_syntax("layers.0.mlp:scale=0.5", 4, 4).factor, 0.5);
}

TEST(PatchSyntax, EmptyNamesAreRefusedBeforeAnyLoad) {
  EXPECT_NE(error_of("layers.0.mlp:add=:t").find("needs FILE.safetensors:TENSOR"),
            std::string::npos);
  EXPECT_NE(error_of("layers.0.mlp:adjust=f::o").find("needs FILE.safetensors:TENSOR"),
            std::string::npos);
}

TEST(PatchSyntax, LongSpecsGiveShortOneLineErrors) {
  const std::string junk(3000, '\x01');
  for (const std::string& spec :
       {"layers.1.self_attn:adjust=d:" + junk, "layers." + junk + ".mlp:zero",
        "layers.1.mlp:" + junk, "layers.1.mlp:zero@" + junk + "-3", junk}) {
    const std::string e = error_of(spec);
    ASSERT_FALSE(e.empty());
    EXPECT_LT(e.size(), 1200u) << e.substr(0, 200);
    EXPECT_EQ(e.find('\n'), std::string::npos);
    EXPECT_NE(e.find("--patch"), std::string::npos);
  }
}

}  // namespace
