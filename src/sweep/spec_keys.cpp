// The job spec's key schema and its matching (with the edit distance for "did you mean"),
// check_keys, and the helpers declared in spec_keys.h: key paths, node locations and the
// errors that name them, fail_at, join. Internal; the public API is spec.h.
#include "sweep/spec_keys.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace mg::sweep::spec_detail {

std::vector<std::string> split_path(const std::string& p) {
  std::vector<std::string> out;
  size_t b = 0;
  while (true) {
    size_t e = p.find('.', b);
    out.push_back(p.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

std::pair<std::string, std::string> parent_and_key(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos) return {"", path};
  return {path.substr(0, dot), path.substr(dot + 1)};
}

namespace {

// ---------------------------------------------------------------------------------------------
// Schema: which key paths exist. A path is the dotted key ("generation.top_k"); "*" matches
// one user-chosen key (a slot or concept name).

enum class KeyKind { Unknown, Table, Leaf };

const std::vector<std::pair<std::string, std::vector<std::string>>>& schema_tables() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> t = {
      {"",
       {"name", "model", "store", "batch_size", "checkpoint_seconds", "stall_seconds", "concepts",
        "labels", "num_labels"}},
      {"classifier", {"kind", "path", "fit_length"}},
      {"generation",
       {"duration", "frames", "top_k", "temperature", "guidance", "seed", "greedy", "dtype",
        "device", "shared_noise"}},
      {"prompts", {"template", "slot_order", "per_concept"}},
      {"prompts.vocab", {"*"}},
      {"concept", {}},
      {"concept.*", {"slot", "value", "label", "relevant", "outside_vocab"}},
      {"baseline", {"enabled", "means", "self_similarity"}},
      {"lens", {"enabled", "layers"}},
      {"interventions",
       {"enabled", "techniques", "scale_factor", "pairs", "components", "heads", "layers",
        "windows", "both_halves", "compat_row0_history", "compat_last_layer_only"}},
      {"extremes", {"enabled", "top_k"}},
      {"slurm",
       {"partition", "nodes", "gpus_per_node", "cpus_per_task", "mem", "time", "account",
        "signal_seconds", "extra_sbatch"}},
  };
  return t;
}

bool pattern_matches(const std::string& pattern, const std::string& path) {
  if (pattern.empty()) return path.empty();
  const auto a = split_path(pattern), b = split_path(path);
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != "*" && a[i] != b[i]) return false;
  return true;
}

// Schema pattern of the table `path` is in, or null.
const std::pair<std::string, std::vector<std::string>>* schema_table_of(const std::string& path) {
  for (const auto& t : schema_tables())
    if (pattern_matches(t.first, path)) return &t;
  return nullptr;
}

KeyKind schema_kind(const std::string& path) {
  for (const auto& t : schema_tables())
    if (!t.first.empty() && pattern_matches(t.first, path)) return KeyKind::Table;
  const auto [parent, key] = parent_and_key(path);
  const auto* t = schema_table_of(parent);
  if (!t) return KeyKind::Unknown;
  for (const auto& k : t->second)
    if (k == "*" || k == key) return KeyKind::Leaf;
  return KeyKind::Unknown;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1)});
      prev = cur;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string file_of(const toml::node& n, const std::string& fallback) {
  const auto& p = n.source().path;
  return p && !p->empty() ? *p : fallback;
}
int64_t line_of(const toml::node& n) { return static_cast<int64_t>(n.source().begin.line); }

std::string where(int64_t line, const std::string& path) {
  return line > 0 ? "line " + std::to_string(line) + ": " + path : path;
}

[[noreturn]] void fail_node(const toml::node& n, const std::string& path,
                            const std::string& problem, const std::string& fix) {
  throw InputError(file_of(n, "<job>"), where(line_of(n), path), problem, fix);
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

bool valid_key_chars(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return false;
  return true;
}

std::string read_text_file(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open the " + what, "check the path");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void check_keys(const Flat& flat) {
  for (const auto& [path, e] : flat) {
    const KeyKind kind = schema_kind(path);
    if (kind == KeyKind::Table && !e.is_table())
      fail_node(*e.node, path, "expected a table, got " + type_name(*e.node),
                "write it as [" + path + "]");
    if (kind == KeyKind::Leaf && e.is_table())
      fail_node(*e.node, path, "expected a value, got a table");
    if (kind != KeyKind::Unknown) continue;
    // Below a key that is a value in the schema: reported as that key's type error.
    bool under_leaf = false;
    for (std::string p = parent_and_key(path).first; !p.empty(); p = parent_and_key(p).first)
      if (schema_kind(p) == KeyKind::Leaf) under_leaf = true;
    if (under_leaf) continue;
    const auto [parent, key] = parent_and_key(path);
    const auto* t = schema_table_of(parent);
    std::string fix;
    if (t && !t->second.empty() && t->second[0] != "*") {
      std::string best;
      size_t best_d = 3;
      std::string known;
      for (const auto& k : t->second) {
        known += (known.empty() ? "" : ", ") + k;
        const size_t d = edit_distance(key, k);
        if (d < best_d) best_d = d, best = k;
      }
      fix = (best.empty() ? "" : "did you mean '" + best + "'? ") + "known keys" +
            (parent.empty() ? std::string(" at the top level") : " in [" + parent + "]") + ": " +
            known;
      if (parent.empty())
        fix +=
            ", and the tables [classifier], [generation], [prompts], "
            "[concept.NAME], [baseline], [lens], [interventions], "
            "[extremes], [slurm]";
    } else if (parent == "concept") {
      fix = "concepts are tables: [concept." + key + "] with slot, value, label, relevant";
    }
    fail_node(*e.node, path, "unknown key '" + path + "'", fix);
  }
}

[[noreturn]] void fail_at(const JobSpec& spec, const std::string& path, const std::string& problem,
                          const std::string& fix) {
  std::string p = path;
  while (true) {
    auto it = spec.locations.find(p);
    if (it != spec.locations.end())
      throw InputError(it->second.file, where(it->second.line, path), problem, fix);
    const size_t cut = std::min(p.rfind('.'), p.rfind('['));
    if (cut == std::string::npos || cut == 0) break;
    p = p.substr(0, cut);
  }
  throw InputError(spec.source, path, problem, fix);
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

}  // namespace mg::sweep::spec_detail
