// The class names of a classifier, in output order. AudioSet's 527 classes come from
// configs/audioset_labels.csv (columns index,mid,display_name; the order of PaSST's logits).
// Torch-free, so the sweep's spec validation can resolve concept labels without a model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mg {

struct Label {
  std::string mid;   // AudioSet machine id, e.g. "/m/042v_gx"; empty where unknown
  std::string name;  // display name, e.g. "Acoustic guitar"
};

class Labels {
 public:
  Labels() = default;
  explicit Labels(std::vector<Label> labels) : labels_(std::move(labels)) {}

  // Reads a CSV with the header `index,mid,display_name` and rows 0..n-1 in order (fields
  // may be quoted, RFC 4180). Throws mg::InputError naming the file and line.
  static Labels load_csv(const std::string& path);
  // The same from text; `source` names it in errors.
  static Labels parse_csv(const std::string& text, const std::string& source);
  // "class_0" .. "class_{n-1}", for a classifier that ships no names.
  static Labels numbered(size_t n);

  size_t size() const { return labels_.size(); }
  bool empty() const { return labels_.empty(); }
  const Label& operator[](size_t i) const { return labels_[i]; }
  const std::string& name(size_t i) const { return labels_[i].name; }

  // Index of the class whose display name or mid equals `key` exactly, or -1.
  int64_t find(const std::string& key) const;
  // find(), but an unknown key is an InputError naming `file` and `field` (e.g. the job TOML
  // entry that asked for it).
  int64_t index_of(const std::string& key, const std::string& file, const std::string& field) const;

 private:
  std::vector<Label> labels_;
};

}  // namespace mg
