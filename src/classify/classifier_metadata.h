// The description a TorchScript classifier file carries (see torchscript_classifier.h): its
// mgsweep.json and optional labels.csv, parsed and validated. Plain C++ (no LibTorch), so
// that this parser of untrusted files can be fuzzed alone (tests/fuzz/fuzz_classifier_meta).
#pragma once

#include <cstdint>
#include <string>

#include "classify/labels.h"

namespace mg {

struct ClassifierMetadata {
  int64_t sample_rate = 0;
  int64_t input_samples = 0;
  int64_t num_classes = 0;
  Labels labels;  // exactly num_classes of them
};

// `path` names the classifier file in errors. `metadata_json`: its mgsweep.json (empty: the
// file has none); `labels_csv`: its labels.csv (empty: none), else the labels are read from
// `labels_file` (empty: none given). Throws mg::InputError naming the file, the entry and
// the fix.
ClassifierMetadata parse_classifier_metadata(const std::string& path,
                                             const std::string& metadata_json,
                                             const std::string& labels_csv,
                                             const std::string& labels_file);

}  // namespace mg
