// Label tables: the shipped AudioSet file and the CSV reader's error messages.
#include "classify/labels.h"

#include <gtest/gtest.h>

#include "musicgen/errors.h"

namespace mg {
namespace {

const std::string kAudioSet = std::string(MGSWEEP_TEST_DATA) + "/../configs/audioset_labels.csv";

TEST(Labels, AudioSetFileHasThePapersConcepts) {
  const auto labels = Labels::load_csv(kAudioSet);
  ASSERT_EQ(labels.size(), 527u);
  EXPECT_EQ(labels.name(0), "Speech");
  EXPECT_EQ(labels[0].mid, "/m/09x0r");
  // The concept labels of DESIGN.md ("Experiments and metrics").
  EXPECT_EQ(labels.find("Guitar"), 140);
  EXPECT_EQ(labels.find("Piano"), 153);
  EXPECT_EQ(labels.find("Trumpet"), 187);
  EXPECT_EQ(labels.find("Violin, fiddle"), 191);  // quoted in the file: it has a comma
  EXPECT_EQ(labels.find("Pop music"), 216);
  EXPECT_EQ(labels.find("Hip hop music"), 217);
  EXPECT_EQ(labels.find("Rock music"), 219);
  EXPECT_EQ(labels.find("Jazz"), 235);
  EXPECT_EQ(labels.find("Classical music"), 237);
  EXPECT_EQ(labels.find("Electronic dance music"), 245);
  EXPECT_EQ(labels.find("/m/0342h"), 140);  // by mid
  EXPECT_EQ(labels.find("guitar"), -1);     // exact match only
}

TEST(Labels, QuotesCrLfAndBom) {
  const auto l = Labels::parse_csv(
      "\xEF\xBB\xBFindex,mid,display_name\r\n0,/m/a,\"A, \"\"quoted\"\" one\"\r\n1,/m/b,B\r\n",
      "t.csv");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l.name(0), "A, \"quoted\" one");
  EXPECT_EQ(l.name(1), "B");
  EXPECT_EQ(l[1].mid, "/m/b");
}

std::string error_of(const std::string& text) {
  try {
    Labels::parse_csv(text, "t.csv");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Labels, ErrorsNameTheFileAndLine) {
  EXPECT_EQ(error_of("idx,mid,name\n0,a,b\n"),
            "t.csv: line 1: header is not `index,mid,display_name` "
            "(use the AudioSet class_labels_indices.csv layout)");
  EXPECT_EQ(error_of("index,mid,display_name\n0,/m/a,A\n2,/m/c,C\n"),
            "t.csv: line 3: index is `2`, expected 1 "
            "(rows must be numbered 0, 1, 2, ... in output order)");
  EXPECT_EQ(error_of("index,mid,display_name\n0,/m/a,A, comma\n"),
            "t.csv: line 2: has 4 fields, expected 3 (quote display names that contain commas)");
  EXPECT_EQ(error_of("index,mid,display_name\n0,/m/a,\"open\n"),
            "t.csv: line 2: unterminated quoted field (close the field with a double quote)");
  EXPECT_EQ(error_of("index,mid,display_name\n"), "t.csv: no labels after the header");
  EXPECT_THROW(Labels::load_csv("/nonexistent/labels.csv"), InputError);
}

// Found by fuzz_labels_csv in CI: a 5000-byte index field made a 5 kB error line.
TEST(Labels, AHugeBadIndexIsCutInTheMessage) {
  const std::string msg =
      error_of("index,mid,display_name\n\"" + std::string(5000, '7') + "\n\",/m/a,A\n");
  EXPECT_LT(msg.size(), 300u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
  EXPECT_NE(msg.find("t.csv: line 2: index is `7777"), std::string::npos) << msg;
  EXPECT_NE(msg.find("...`, expected 0"), std::string::npos) << msg;
}

TEST(Labels, IndexOfNamesTheAskingField) {
  const auto l = Labels::parse_csv("index,mid,display_name\n0,/m/a,A\n", "t.csv");
  EXPECT_EQ(l.index_of("A", "job.toml", "concepts.x.label"), 0);
  try {
    l.index_of("Z", "job.toml", "concepts.x.label");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "job.toml");
    EXPECT_EQ(e.field(), "concepts.x.label");
  }
}

TEST(Labels, Numbered) {
  const auto l = Labels::numbered(3);
  EXPECT_EQ(l.size(), 3u);
  EXPECT_EQ(l.name(2), "class_2");
}

}  // namespace
}  // namespace mg
