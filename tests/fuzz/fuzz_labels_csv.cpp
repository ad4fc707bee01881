// libFuzzer target: arbitrary bytes as a label CSV (configs/audioset_labels.csv, a classifier
// file's labels.csv) -> mg::Labels::parse_csv. Parsing must either succeed or throw
// mg::InputError with a one-line message; parsed labels are numbered rows with a display
// name, written back as CSV (every field quoted) they parse again to the same labels, and
// find() returns the first row with a name or mid.
//   seed corpus: configs/audioset_labels.csv (and slices of it, by tools/fuzz.sh)
#include <cstddef>
#include <cstdint>
#include <string>

#include "classify/labels.h"
#include "fuzz_common.h"
#include "musicgen/errors.h"

namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mg::Labels labels;
  try {
    labels = mg::Labels::parse_csv(text, "fuzz.csv");
  } catch (const mg::InputError& e) {
    fuzz::check_error_line(e.what());
    return 0;
  }
  if (labels.empty()) __builtin_trap();  // "no labels" is an error, not an empty table
  std::string csv = "index,mid,display_name\n";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels.name(i).empty()) __builtin_trap();
    csv += std::to_string(i) + "," + quoted(labels[i].mid) + "," + quoted(labels[i].name) + "\n";
    const int64_t j = labels.find(labels.name(i));
    if (j < 0 || j > static_cast<int64_t>(i)) __builtin_trap();
    if (i > 256) break;  // find() is linear: keep big tables from slowing the fuzzer
  }
  if (labels.size() <= 257) {
    mg::Labels again;
    try {
      again = mg::Labels::parse_csv(csv, "fuzz-rewritten.csv");
    } catch (const mg::InputError&) {
      __builtin_trap();  // a table we can hold must be writable as CSV
    }
    if (again.size() != labels.size()) __builtin_trap();
    for (size_t i = 0; i < labels.size(); ++i)
      if (again[i].mid != labels[i].mid || again[i].name != labels[i].name) __builtin_trap();
  }
  return 0;
}
