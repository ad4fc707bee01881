// HookSite::parse: every good name round-trips through name(); malformed names and
// layers/heads past the model throw InputError naming the origin and the text.
#include <gtest/gtest.h>

#include <string>

#include "musicgen/errors.h"
#include "musicgen/hooks.h"

namespace {

constexpr int64_t kLayers = 4, kHeads = 4;

TEST(HookSite, GoodNamesRoundTrip) {
  for (const char* name :
       {"layers.0.self_attn", "layers.0.cross_attn", "layers.1.mlp", "layers.3.out",
        "layers.2.self_attn.head.0", "layers.3.cross_attn.head.3"}) {
    const mg::HookSite s = mg::HookSite::parse(name, kLayers, kHeads);
    EXPECT_EQ(s.name(), name);
    EXPECT_EQ(mg::HookSite::parse(s.name(), kLayers, kHeads), s);
  }
  const mg::HookSite h = mg::HookSite::parse("layers.2.cross_attn.head.1", kLayers, kHeads);
  EXPECT_EQ(h.layer, 2);
  EXPECT_EQ(h.kind, mg::SiteKind::CrossAttnHead);
  EXPECT_EQ(h.head, 1);
  EXPECT_TRUE(h.is_head());
  const mg::HookSite m = mg::HookSite::parse("layers.1.mlp", kLayers, kHeads);
  EXPECT_EQ(m.layer, 1);
  EXPECT_EQ(m.kind, mg::SiteKind::Mlp);
  EXPECT_FALSE(m.is_head());
  // -1 skips the range checks.
  EXPECT_EQ(mg::HookSite::parse("layers.99.self_attn.head.77", -1, -1).head, 77);
}

TEST(HookSite, AllSitesRoundTrip) {
  for (const mg::HookSite& s : mg::all_sites(kLayers, kHeads, /*with_heads=*/true))
    EXPECT_EQ(mg::HookSite::parse(s.name(), kLayers, kHeads), s) << s.name();
}

TEST(HookSite, BadNamesThrow) {
  for (const char* bad : {"layers.x.mlp",
                          "layers.1",
                          "layers.1.mlpx",
                          "layers.99.mlp",
                          "layers.4.out",
                          "layers.1.self_attn.head.9",
                          "layers.1.self_attn.head.4",
                          "layers.1.mlp.head.0",
                          "layers.1.out.head.0",
                          "",
                          ".",
                          "layers",
                          "layers.",
                          "layers..mlp",
                          "layers.-1.mlp",
                          "layers.+1.mlp",
                          "layers. 1.mlp",
                          "layers.1.mlp.",
                          "layers.1.self_attn.head",
                          "layers.1.self_attn.head.",
                          "layers.1.self_attn.head.x",
                          "layers.1.self_attn.head.-1",
                          "layers.1.self_attn.heads.1",
                          "layers.1.self_attn.head.1.x",
                          "Layers.1.mlp",
                          "layer.1.mlp",
                          "layers.1.MLP",
                          "layers.99999999999999999999.mlp",
                          "layers.1.self_attn.head.99999999999999999999",
                          "layers.1e2.mlp",
                          "layers.0x1.mlp",
                          "layers.1.mlp\n",
                          "layers.1.self_attn "}) {
    try {
      mg::HookSite::parse(bad, kLayers, kHeads, "test.toml");
      ADD_FAILURE() << "parsed '" << bad << "'";
    } catch (const mg::InputError& e) {
      EXPECT_EQ(e.file(), "test.toml") << e.what();
      EXPECT_EQ(e.field(), bad) << e.what();
    }
  }
}

TEST(HookSite, MessagesSayWhatIsWrong) {
  auto msg = [](const std::string& text) {
    try {
      mg::HookSite::parse(text, kLayers, kHeads, "--patch");
    } catch (const mg::InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(msg("layers.99.mlp").find("4 layers"), std::string::npos) << msg("layers.99.mlp");
  EXPECT_NE(msg("layers.1.self_attn.head.9").find("4 heads"), std::string::npos);
  EXPECT_NE(msg("layers.1.mlpx").find("mlpx"), std::string::npos);
  EXPECT_EQ(msg("layers.1").rfind("--patch: layers.1: ", 0), 0u) << msg("layers.1");
}

TEST(HookSite, Ops) {
  for (const char* name : {"replace", "adjust", "add", "scale", "zero"}) {
    mg::InterventionOp op;
    ASSERT_TRUE(mg::parse_op(name, &op)) << name;
    EXPECT_STREQ(mg::op_name(op), name);
  }
  mg::InterventionOp op;
  EXPECT_FALSE(mg::parse_op("Zero", &op));
  EXPECT_FALSE(mg::parse_op("", &op));
  EXPECT_FALSE(mg::parse_op("multiply", &op));
}

}  // namespace
