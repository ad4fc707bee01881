// Prompt enumeration: prompt i of a concept is the paper's prompt i (its code's
// PromptGenerator.get_prompts_for with n_per_type=1000, n_total=100).
#include "sweep/prompts.h"

#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "sweep/spec.h"

namespace mg::sweep {
namespace {

const std::string kRoot = std::string(MGSWEEP_TEST_DATA) + "/..";

// The paper's ten concepts with the paper's template: jobs/paper_small.toml.
const JobSpec& paper() {
  static const JobSpec spec = load_job(kRoot + "/jobs/paper_small.toml");
  return spec;
}

std::vector<std::string> prompts_of(const std::string& name) {
  const size_t c = paper().concept_index(name);
  EXPECT_NE(c, std::string::npos) << name;
  return concept_prompts(paper(), c);
}

TEST(Prompts, TemplateHelpers) {
  EXPECT_EQ(template_slots("Compose a [MOOD] [GENRE] piece, [MOOD] [x y] [1A]"),
            (std::vector<std::string>{"MOOD", "GENRE"}));
  EXPECT_EQ(fill_template("a [A] b [B] [A] [C] [not a slot]", {{"A", "x"}, {"B", "y"}}),
            "a x b y x [C] [not a slot]");
  EXPECT_EQ(fill_template("[A][A]", {{"A", "[A]"}}), "[A][A]");  // one pass, no re-expansion
}

TEST(Prompts, GuitarByHand) {
  // Instrument concept: GENRE, MOOD, TEMPO vary (outermost first), 5 x 5 x 5 = 125.
  const auto p = prompts_of("guitar");
  ASSERT_EQ(p.size(), 100u);
  EXPECT_EQ(p[0], "Compose a emotional rock piece, with a guitar melody. Use a fast tempo.");
  EXPECT_EQ(p[1], "Compose a emotional rock piece, with a guitar melody. Use a medium tempo.");
  EXPECT_EQ(p[4],
            "Compose a emotional rock piece, with a guitar melody. Use a medium to fast tempo.");
  EXPECT_EQ(p[5], "Compose a passionate rock piece, with a guitar melody. Use a fast tempo.");
  EXPECT_EQ(p[25], "Compose a emotional pop piece, with a guitar melody. Use a fast tempo.");
  // 99 = 3*25 + 4*5 + 4: jazz, happy, medium to fast. Classical (genre 4) is never reached.
  EXPECT_EQ(p[99], "Compose a happy jazz piece, with a guitar melody. Use a medium to fast tempo.");
  for (const auto& s : p) EXPECT_EQ(s.find("classical"), std::string::npos) << s;
  EXPECT_EQ(concept_prompt(paper(), paper().concept_index("guitar"), 124),
            "Compose a happy classical piece, with a guitar melody. Use a medium to fast tempo.");
  EXPECT_THROW(concept_prompt(paper(), paper().concept_index("guitar"), 125), std::out_of_range);
}

TEST(Prompts, PianoAndViolinByHand) {
  // 26 = 1*25 + 0*5 + 1: pop, emotional, medium.
  EXPECT_EQ(prompts_of("piano")[26],
            "Compose a emotional pop piece, with a piano melody. Use a medium tempo.");
  // 63 = 2*25 + 2*5 + 3: electronic, groovy, slow to medium.
  EXPECT_EQ(prompts_of("violin")[63],
            "Compose a groovy electronic piece, with a violin melody. Use a slow to medium tempo.");
}

TEST(Prompts, GenresByHand) {
  // Genre concept: MOOD, INSTRUMENTS, TEMPO vary.
  const auto rock = prompts_of("rock");
  EXPECT_EQ(rock[0], "Compose a emotional rock piece, with a guitar melody. Use a fast tempo.");
  // 2 = emotional, guitar, slow.
  EXPECT_EQ(prompts_of("classical")[2],
            "Compose a emotional classical piece, with a guitar melody. Use a slow tempo.");
  // 37 = 1*25 + 2*5 + 2: passionate, trumpet, slow.
  EXPECT_EQ(prompts_of("jazz")[37],
            "Compose a passionate jazz piece, with a trumpet melody. Use a slow tempo.");
  // 99 = 3*25 + 4*5 + 4: energetic, flute, medium to fast ("happy" is never reached).
  EXPECT_EQ(prompts_of("pop")[99],
            "Compose a energetic pop piece, with a flute melody. Use a medium to fast tempo.");
}

TEST(Prompts, HiphopFillsTheSlotOutsideTheVocabulary) {
  // The paper's published sample "Compose_a_emotional_hiphop_piece_with_a_trumpet_melody_
  // Use_a_slow_to_medium_tempo": 13 = 0*25 + 2*5 + 3.
  const auto p = prompts_of("hiphop");
  EXPECT_EQ(p[0], "Compose a emotional hiphop piece, with a guitar melody. Use a fast tempo.");
  EXPECT_EQ(p[13],
            "Compose a emotional hiphop piece, with a trumpet melody. Use a slow to medium tempo.");
  // EDM's prompts say "electronic", the vocabulary's word.
  EXPECT_EQ(prompts_of("electronic")[0],
            "Compose a emotional electronic piece, with a guitar melody. Use a fast tempo.");
}

TEST(Prompts, DistinctAndCountedByPerConcept) {
  for (size_t c = 0; c < paper().concepts.size(); ++c) {
    const auto p = concept_prompts(paper(), c);
    ASSERT_EQ(p.size(), 100u);
    EXPECT_EQ(std::set<std::string>(p.begin(), p.end()).size(), 100u);
    EXPECT_EQ(prompt_combinations(paper(), paper().concepts[c].slot), 125);
  }
  const JobSpec demo = load_job(kRoot + "/jobs/demo.toml");
  ASSERT_EQ(demo.concepts.size(), 3u);
  const auto g = concept_prompts(demo, 0);
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g[3],
            "Compose a emotional rock piece, with a guitar melody. Use a slow to medium tempo.");
  EXPECT_THROW(concept_prompts(demo, 3), std::out_of_range);
}

}  // namespace
}  // namespace mg::sweep
