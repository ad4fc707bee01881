#include "classify/classifier_metadata.h"

#include <nlohmann/json.hpp>

#include "musicgen/errors.h"

namespace mg {
namespace {

constexpr const char* kFormat = "mgsweep.classifier";
constexpr int64_t kFormatVersion = 1;
constexpr const char* kExportFix = "export it with tools/export_passt.py (docs/classifier.md)";

// meta.value(key, default) throws nlohmann's type_error when the key holds another type
// ({"format": 1}): a bare library message that names neither the file nor the key. These
// read a key of the expected type, or say what is wrong with it.
std::string string_field(const nlohmann::json& meta, const char* key, const std::string& path,
                         const std::string& problem, const std::string& fix) {
  const auto it = meta.find(key);
  if (it == meta.end() || !it->is_string())
    throw InputError(path, std::string("mgsweep.json: ") + key, problem, fix);
  return it->get<std::string>();
}

int64_t positive_int(const nlohmann::json& meta, const char* key, const std::string& path) {
  const std::string field = std::string("mgsweep.json: ") + key;
  if (!meta.contains(key)) throw InputError(path, field, "missing", kExportFix);
  const auto& v = meta[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0)
    throw InputError(path, field, "must be a positive integer, is " + printable(v.dump(), 80),
                     kExportFix);
  return v.get<int64_t>();
}

}  // namespace

ClassifierMetadata parse_classifier_metadata(const std::string& path,
                                             const std::string& metadata_json,
                                             const std::string& labels_csv,
                                             const std::string& labels_file) {
  if (metadata_json.empty())
    throw InputError(path, "mgsweep.json",
                     "missing: the file does not say its sample rate, "
                     "input length and class count",
                     kExportFix);
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(metadata_json);
  } catch (const nlohmann::json::exception& e) {
    // Cut: nlohmann quotes the last token it read, which may be the whole file.
    throw InputError(path, "mgsweep.json", "not JSON: " + printable(e.what(), 300), kExportFix);
  }
  const std::string format_problem = std::string("is not \"") + kFormat + "\"";
  if (!meta.is_object()) throw InputError(path, "mgsweep.json", "is not a JSON object", kExportFix);
  if (string_field(meta, "format", path, format_problem, kExportFix) != kFormat)
    throw InputError(path, "mgsweep.json: format", format_problem, kExportFix);
  const auto version = meta.find("format_version");
  if (version == meta.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kFormatVersion)
    throw InputError(
        path, "mgsweep.json: format_version",
        "unsupported (this build reads version " + std::to_string(kFormatVersion) + ")",
        "re-export with this checkout's tools/export_passt.py");
  const std::string output_problem = "must be \"logits\"";
  if (string_field(meta, "output", path, output_problem, "the metrics need pre-softmax scores") !=
      "logits")
    throw InputError(path, "mgsweep.json: output", output_problem,
                     "the metrics need pre-softmax scores");
  ClassifierMetadata m;
  m.sample_rate = positive_int(meta, "sample_rate", path);
  m.input_samples = positive_int(meta, "input_samples", path);
  m.num_classes = positive_int(meta, "num_classes", path);

  if (!labels_csv.empty()) {
    m.labels = Labels::parse_csv(labels_csv, path + ":labels.csv");
  } else if (!labels_file.empty()) {
    m.labels = Labels::load_csv(labels_file);
  } else {
    throw InputError(path, "labels.csv", "missing, and no label file was given",
                     "pass configs/audioset_labels.csv, or re-export with --labels");
  }
  if (int64_t(m.labels.size()) != m.num_classes)
    throw InputError(path, "mgsweep.json: num_classes",
                     std::to_string(m.num_classes) + " classes but " +
                         std::to_string(m.labels.size()) + " labels",
                     "use the label file the model was trained with");
  return m;
}

}  // namespace mg
