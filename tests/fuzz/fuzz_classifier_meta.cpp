// libFuzzer target: a TorchScript classifier file's description -> mg::parse_classifier_metadata
// (the torch-free part of TorchScriptClassifier's constructor). The input is mgsweep.json,
// then optionally a NUL byte and the file's labels.csv. Parsing must either succeed or throw
// mg::InputError with a one-line message (a JSON value of the wrong type included: never
// nlohmann's own exceptions); what it returns is positive and has one label per class.
//   seed corpus: the metadata tools/export_passt.py writes (see tools/fuzz.sh), with and
//   without configs/audioset_labels.csv
#include <cstddef>
#include <cstdint>
#include <string>

#include "classify/classifier_metadata.h"
#include "fuzz_common.h"
#include "musicgen/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string json = input.substr(0, nul);
  const std::string csv = nul == std::string::npos ? "" : input.substr(nul + 1);
  mg::ClassifierMetadata m;
  try {
    // No fallback label file: the fuzzer must not read files.
    m = mg::parse_classifier_metadata("fuzz.pt", json, csv, "");
  } catch (const mg::InputError& e) {
    fuzz::check_error_line(e.what());
    return 0;
  }
  if (m.sample_rate <= 0 || m.input_samples <= 0 || m.num_classes <= 0) __builtin_trap();
  if (static_cast<int64_t>(m.labels.size()) != m.num_classes) __builtin_trap();
  return 0;
}
