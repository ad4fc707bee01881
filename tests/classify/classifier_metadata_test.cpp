// mg::parse_classifier_metadata: what a TorchScript classifier file's mgsweep.json and
// labels.csv must say. Every malformed description is an mg::InputError naming the file
// and the entry; a JSON value of the wrong type included (found by fuzz_classifier_meta:
// {"format": 1} escaped as nlohmann's type_error, a message naming neither).
#include "classify/classifier_metadata.h"

#include <gtest/gtest.h>

#include <string>

#include "musicgen/errors.h"

namespace mg {
namespace {

const std::string kLabels = "index,mid,display_name\n0,/m/a,A\n1,/m/b,\"B, b\"\n2,/m/c,C\n";

std::string meta(const std::string& format = "\"mgsweep.classifier\"",
                 const std::string& version = "1", const std::string& output = "\"logits\"",
                 const std::string& rate = "8000") {
  return R"({"format": )" + format + R"(, "format_version": )" + version + R"(, "sample_rate": )" +
         rate + R"(, "input_samples": 16, "num_classes": 3, "output": )" + output + "}";
}

// The InputError's message, or "" when it parsed.
std::string error_of(const std::string& json, const std::string& csv = kLabels) {
  try {
    parse_classifier_metadata("c.pt", json, csv, "");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ClassifierMetadata, ParsesWhatTheExporterWrites) {
  const ClassifierMetadata m = parse_classifier_metadata("c.pt", meta(), kLabels, "");
  EXPECT_EQ(m.sample_rate, 8000);
  EXPECT_EQ(m.input_samples, 16);
  EXPECT_EQ(m.num_classes, 3);
  ASSERT_EQ(m.labels.size(), 3u);
  EXPECT_EQ(m.labels.name(1), "B, b");
}

TEST(ClassifierMetadata, WrongTypesAreInputErrorsNamingTheEntry) {
  EXPECT_NE(error_of(meta("1")).find("c.pt: mgsweep.json: format: "), std::string::npos);
  EXPECT_NE(error_of(meta("null")).find("mgsweep.json: format: "), std::string::npos);
  EXPECT_NE(error_of(meta("\"mgsweep.classifier\"", "\"1\"")).find("format_version"),
            std::string::npos);
  EXPECT_NE(error_of(meta("\"mgsweep.classifier\"", "1.5")).find("format_version"),
            std::string::npos);
  EXPECT_NE(error_of(meta("\"mgsweep.classifier\"", "1", "[1]")).find("mgsweep.json: output"),
            std::string::npos);
  EXPECT_NE(error_of(meta("\"mgsweep.classifier\"", "1", "\"logits\"", "\"8000\""))
                .find("mgsweep.json: sample_rate: must be a positive integer"),
            std::string::npos);
  EXPECT_NE(error_of("[1, 2]").find("mgsweep.json: is not a JSON object"), std::string::npos);
}

TEST(ClassifierMetadata, LongValuesAreCutInTheMessage) {
  const std::string big = "\"" + std::string(10000, 'x') + "\"";
  const std::string e1 = error_of(meta("\"mgsweep.classifier\"", "1", "\"logits\"", big));
  EXPECT_LT(e1.size(), 600u) << e1;
  const std::string e2 = error_of("{\"format\": \"" + std::string(10000, 'y'));  // not JSON
  EXPECT_LT(e2.size(), 800u) << e2;
  EXPECT_NE(e2.find("not JSON"), std::string::npos);
}

TEST(ClassifierMetadata, LabelsMustMatchTheClassCount) {
  EXPECT_NE(error_of(meta(), "index,mid,display_name\n0,,A\n").find("3 classes but 1 labels"),
            std::string::npos);
  EXPECT_NE(error_of(meta(), "").find("labels.csv: missing"), std::string::npos);
}

}  // namespace
}  // namespace mg
