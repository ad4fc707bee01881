// CSV reading for label tables (see labels.h).
#include "classify/labels.h"

#include <fstream>
#include <sstream>

#include "musicgen/errors.h"

namespace mg {
namespace {

// Splits one CSV record starting at text[pos] into fields (RFC 4180: "" inside quotes is a
// quote; a quoted field may hold commas and newlines). Advances pos past the record's line
// break. `line` counts physical lines for error messages.
std::vector<std::string> read_record(const std::string& text, size_t& pos, size_t& line,
                                     const std::string& source) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  const size_t start_line = line;
  while (pos < text.size()) {
    const char c = text[pos++];
    if (quoted) {
      if (c == '"') {
        if (pos < text.size() && text[pos] == '"') {
          fields.back() += '"';
          ++pos;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\n') {
      ++line;
      break;
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  if (quoted)
    throw InputError(source, "line " + std::to_string(start_line), "unterminated quoted field",
                     "close the field with a double quote");
  return fields;
}

}  // namespace

Labels Labels::load_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw InputError(path, "", "cannot open the label file",
                     "pass the path of configs/audioset_labels.csv");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_csv(text.str(), path);
}

Labels Labels::parse_csv(const std::string& text, const std::string& source) {
  size_t pos = 0, line = 1;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) pos = 3;  // a UTF-8 byte order mark
  const auto header = read_record(text, pos, line, source);
  if (header != std::vector<std::string>{"index", "mid", "display_name"})
    throw InputError(source, "line 1", "header is not `index,mid,display_name`",
                     "use the AudioSet class_labels_indices.csv layout");
  std::vector<Label> labels;
  while (pos < text.size()) {
    const size_t record_line = line;
    const auto f = read_record(text, pos, line, source);
    if (f.size() == 1 && f[0].empty()) continue;  // a blank line (e.g. the final newline)
    const std::string where = "line " + std::to_string(record_line);
    if (f.size() != 3)
      throw InputError(source, where, "has " + std::to_string(f.size()) + " fields, expected 3",
                       "quote display names that contain commas");
    const std::string expected = std::to_string(labels.size());
    if (f[0] != expected)
      throw InputError(source, where,
                       "index is `" + printable(f[0], 40) + "`, expected " + expected,
                       "rows must be numbered 0, 1, 2, ... in output order");
    if (f[2].empty()) throw InputError(source, where, "empty display_name");
    labels.push_back({f[1], f[2]});
  }
  if (labels.empty()) throw InputError(source, "", "no labels after the header");
  return Labels(std::move(labels));
}

Labels Labels::numbered(size_t n) {
  std::vector<Label> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i].name = "class_" + std::to_string(i);
  return Labels(std::move(labels));
}

int64_t Labels::find(const std::string& key) const {
  for (size_t i = 0; i < labels_.size(); ++i)
    if (labels_[i].name == key || (!labels_[i].mid.empty() && labels_[i].mid == key))
      return int64_t(i);
  return -1;
}

int64_t Labels::index_of(const std::string& key, const std::string& file,
                         const std::string& field) const {
  const int64_t i = find(key);
  if (i < 0)
    throw InputError(file, field, "unknown class label `" + key + "`",
                     "use a display_name or mid from configs/audioset_labels.csv");
  return i;
}

}  // namespace mg
