#include "sweep/spec.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <set>
#include <sstream>

#include "classify/labels.h"
#include "musicgen/errors.h"
#include "sweep/prompts.h"

namespace mg::sweep {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kAudioSetClasses = 527;
constexpr int64_t kAssumedFrameRate = 50;  // MusicGen's EnCodec: 32000 Hz / 640
const char* const kLabelFile = "audioset_labels.csv";

// ---------------------------------------------------------------------------------------------
// Schema: which key paths exist. A path is the dotted key ("generation.top_k"); "*" matches
// one user-chosen key (a slot or concept name).

enum class KeyKind { Unknown, Table, Leaf };

const std::vector<std::pair<std::string, std::vector<std::string>>>& schema_tables() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> t = {
      {"",
       {"name", "model", "store", "batch_size", "checkpoint_seconds", "concepts", "labels",
        "num_labels"}},
      {"classifier", {"kind", "path"}},
      {"generation",
       {"duration", "frames", "top_k", "temperature", "guidance", "seed", "greedy", "dtype",
        "device"}},
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

std::pair<std::string, std::string> parent_and_key(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos) return {"", path};
  return {path.substr(0, dot), path.substr(dot + 1)};
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

// ---------------------------------------------------------------------------------------------
// Loading: every file parsed into its own table (kept alive), flattened into key path -> node,
// later layers overriding earlier ones.

struct Entry {
  const toml::node* node = nullptr;
  bool is_table() const { return node->is_table(); }
};
using Flat = std::map<std::string, Entry>;

std::string file_of(const toml::node& n, const std::string& fallback) {
  const auto& p = n.source().path;
  return p && !p->empty() ? *p : fallback;
}
int64_t line_of(const toml::node& n) { return static_cast<int64_t>(n.source().begin.line); }

std::string where(int64_t line, const std::string& path) {
  return line > 0 ? "line " + std::to_string(line) + ": " + path : path;
}

[[noreturn]] void fail_node(const toml::node& n, const std::string& path,
                            const std::string& problem, const std::string& fix = "") {
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

class Loader {
 public:
  // Loads `path` and its includes.
  void load_file(const std::string& path) { flat_ = load(path, {}, nullptr, ""); }
  void load_text(const std::string& text, const std::string& origin) {
    flat_ = load_doc(parse(text, origin), fs::current_path().string(), {});
  }
  const Flat& flat() const { return flat_; }
  const std::vector<std::string>& files() const { return files_; }

 private:
  const toml::table& parse(const std::string& text, const std::string& origin) {
    try {
      docs_.push_back(std::make_unique<toml::table>(toml::parse(text, origin)));
    } catch (const toml::parse_error& e) {
      throw InputError(origin, "line " + std::to_string(e.source().begin.line),
                       "TOML syntax error: " + std::string(e.description()));
    }
    return *docs_.back();
  }

  Flat load(const std::string& path, std::vector<std::string> stack, const toml::node* from,
            const std::string& from_path) {
    const std::string canon = fs::weakly_canonical(fs::absolute(path)).string();
    for (size_t i = 0; i < stack.size(); ++i) {
      if (stack[i] != canon) continue;
      std::string chain;
      for (size_t j = i; j < stack.size(); ++j) chain += stack[j] + " -> ";
      fail_node(*from, from_path, "include cycle: " + chain + canon,
                "remove one of these includes");
    }
    if (from && !fs::is_regular_file(path))
      fail_node(*from, from_path, "included file '" + path + "' does not exist",
                "include paths are relative to the including file's folder");
    files_.push_back(path);
    const std::string text = read_text_file(path, "job file");
    stack.push_back(canon);
    const std::string dir = fs::path(path).parent_path().string();
    return load_doc(parse(text, path), dir.empty() ? "." : dir, stack);
  }

  Flat load_doc(const toml::table& doc, const std::string& dir,
                const std::vector<std::string>& stack) {
    Flat out;
    if (const toml::node* inc = doc.get("include")) {
      std::vector<std::pair<const toml::node*, std::string>> items;
      if (inc->is_string()) {
        items.push_back({inc, "include"});
      } else if (const toml::array* arr = inc->as_array()) {
        for (size_t i = 0; i < arr->size(); ++i)
          items.push_back({arr->get(i), "include[" + std::to_string(i) + "]"});
      } else {
        fail_node(*inc, "include", "expected an array of file names, got " + type_name(*inc));
      }
      for (const auto& [node, field] : items) {
        if (!node->is_string())
          fail_node(*node, field, "expected a file name, got " + type_name(*node));
        const std::string rel = node->as_string()->get();
        const std::string p = (fs::path(rel).is_absolute() ? fs::path(rel) : fs::path(dir) / rel)
                                  .lexically_normal()
                                  .string();
        overlay(out, load(p, stack, node, field));
      }
    }
    Flat mine;
    flatten(doc, "", mine);
    overlay(out, mine);
    return out;
  }

  static void flatten(const toml::table& t, const std::string& prefix, Flat& out) {
    for (const auto& [k, node] : t) {
      const std::string key(k.str());
      if (prefix.empty() && key == "include") continue;
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      if (!valid_key_chars(key))
        fail_node(node, path, "key '" + key + "' has characters other than letters, digits, _, -",
                  "rename it");
      out[path] = Entry{&node};
      if (const toml::table* sub = node.as_table()) flatten(*sub, path, out);
    }
  }

  // dst := dst overridden by src (tables merge key by key, everything else replaces).
  // Alternatives (duration | frames) replace each other: a job that sets frames overrides
  // an included duration.
  static void overlay(Flat& dst, const Flat& src) {
    static const std::vector<std::pair<std::string, std::string>> alternatives = {
        {"generation.duration", "generation.frames"}};
    for (const auto& [a, b] : alternatives) {
      if (src.count(a) && !src.count(b)) dst.erase(b);
      if (src.count(b) && !src.count(a)) dst.erase(a);
    }
    for (const auto& [path, e] : src) {
      if (!e.is_table()) {
        const std::string pre = path + ".";
        for (auto it = dst.lower_bound(pre);
             it != dst.end() && it->first.compare(0, pre.size(), pre) == 0;)
          it = dst.erase(it);
      }
      dst[path] = e;
    }
  }

  std::vector<std::unique_ptr<toml::table>> docs_;
  std::vector<std::string> files_;
  Flat flat_;
};

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

// ---------------------------------------------------------------------------------------------
// Typed reads. Every read records where the key was written.

class Reader {
 public:
  Reader(const Flat& flat, std::string root, JobSpec& spec)
      : flat_(flat), root_(std::move(root)), spec_(spec) {}

  const toml::node* find(const std::string& path) const {
    auto it = flat_.find(path);
    if (it == flat_.end()) return nullptr;
    note(path, *it->second.node);
    return it->second.node;
  }
  bool has(const std::string& path) const { return flat_.count(path) != 0; }

  void note(const std::string& path, const toml::node& n) const {
    spec_.locations[path] = SourceLoc{file_of(n, root_), line_of(n)};
  }

  [[noreturn]] void fail(const std::string& path, const std::string& problem,
                         const std::string& fix = "") const {
    if (const toml::node* n = find(path)) fail_node(*n, path, problem, fix);
    // An array element read before (its location noted).
    auto it = spec_.locations.find(path);
    if (it != spec_.locations.end())
      throw InputError(it->second.file, where(it->second.line, path), problem, fix);
    // Absent: point at the enclosing table where there is one.
    for (std::string p = parent_and_key(path).first; !p.empty(); p = parent_and_key(p).first)
      if (const toml::node* n = find(p)) fail_node(*n, path, problem, fix);
    throw InputError(root_, path, problem, fix);
  }

  std::string str(const std::string& path, const std::string& def) const {
    const toml::node* n = find(path);
    if (!n) return def;
    if (!n->is_string()) fail_node(*n, path, "expected a string, got " + type_name(*n));
    return n->as_string()->get();
  }
  std::string required_str(const std::string& path, const std::string& fix) const {
    if (!has(path)) fail(path, "missing", fix);
    return str(path, "");
  }
  int64_t integer(const std::string& path, int64_t def) const {
    const toml::node* n = find(path);
    if (!n) return def;
    if (!n->is_integer()) fail_node(*n, path, "expected an integer, got " + type_name(*n));
    return n->as_integer()->get();
  }
  double number(const std::string& path, double def) const {
    const toml::node* n = find(path);
    if (!n) return def;
    if (n->is_integer()) return static_cast<double>(n->as_integer()->get());
    if (!n->is_floating_point()) fail_node(*n, path, "expected a number, got " + type_name(*n));
    const double v = n->as_floating_point()->get();
    if (!std::isfinite(v)) fail_node(*n, path, "expected a finite number");
    return v;
  }
  bool boolean(const std::string& path, bool def) const {
    const toml::node* n = find(path);
    if (!n) return def;
    if (!n->is_boolean()) fail_node(*n, path, "expected true or false, got " + type_name(*n));
    return n->as_boolean()->get();
  }
  const toml::array* array(const std::string& path) const {
    const toml::node* n = find(path);
    if (!n) return nullptr;
    if (!n->is_array()) fail_node(*n, path, "expected an array, got " + type_name(*n));
    return n->as_array();
  }
  // An array of strings, each non-empty and distinct (empty array allowed only if allow_empty).
  std::vector<std::string> strings(const std::string& path, std::vector<std::string> def,
                                   bool allow_empty = false) const {
    const toml::array* a = array(path);
    if (!a) return def;
    if (a->empty() && !allow_empty) fail(path, "is empty");
    std::vector<std::string> out;
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& n = *a->get(i);
      const std::string ep = path + "[" + std::to_string(i) + "]";
      note(ep, n);
      if (!n.is_string()) fail_node(n, ep, "expected a string, got " + type_name(n));
      std::string s = n.as_string()->get();
      if (s.empty()) fail_node(n, ep, "is an empty string");
      if (std::find(out.begin(), out.end(), s) != out.end())
        fail_node(n, ep, "'" + s + "' is listed twice");
      out.push_back(std::move(s));
    }
    return out;
  }
  // "all" (returns true, out untouched) or a non-empty array of distinct integers >= lo.
  bool all_or_ints(const std::string& path, int64_t lo, std::vector<int64_t>& out,
                   const std::string& what) const {
    const toml::node* n = find(path);
    if (!n) return true;
    if (n->is_string()) {
      if (n->as_string()->get() != "all")
        fail_node(*n, path, "expected \"all\" or a list of " + what);
      return true;
    }
    if (!n->is_array())
      fail_node(*n, path, "expected \"all\" or a list of " + what + ", got " + type_name(*n));
    const toml::array& a = *n->as_array();
    if (a.empty()) fail_node(*n, path, "is empty", "list at least one, or write \"all\"");
    out.clear();
    for (size_t i = 0; i < a.size(); ++i) {
      const toml::node& e = *a.get(i);
      const std::string ep = path + "[" + std::to_string(i) + "]";
      note(ep, e);
      if (!e.is_integer()) fail_node(e, ep, "expected an integer, got " + type_name(e));
      const int64_t v = e.as_integer()->get();
      if (v < lo)
        fail_node(e, ep, what + " " + std::to_string(v) + " is below " + std::to_string(lo));
      if (std::find(out.begin(), out.end(), v) != out.end())
        fail_node(e, ep, std::to_string(v) + " is listed twice");
      out.push_back(v);
    }
    return false;
  }

  const Flat& flat() const { return flat_; }
  const std::string& root() const { return root_; }

 private:
  const Flat& flat_;
  std::string root_;
  JobSpec& spec_;
};

[[noreturn]] void fail_at(const JobSpec& spec, const std::string& path, const std::string& problem,
                          const std::string& fix = "") {
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

// ---------------------------------------------------------------------------------------------
// The parts of a spec.

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

struct LabelSet {
  int64_t count = kAudioSetClasses;
  std::string path;  // empty: no CSV
  std::unique_ptr<Labels> labels;
};

LabelSet read_labels(const Reader& r, const std::vector<std::string>& files) {
  LabelSet ls;
  if (r.has("labels")) {
    const toml::node* n = r.find("labels");
    const std::string rel = r.str("labels", "");
    fs::path p(rel);
    if (!p.is_absolute()) {
      const auto& src = n->source().path;
      const fs::path base =
          src && fs::is_regular_file(*src) ? fs::path(*src).parent_path() : fs::current_path();
      p = base / p;
    }
    if (!fs::is_regular_file(p))
      fail_node(*n, "labels", "the label file '" + p.string() + "' does not exist",
                "the path is relative to the file that names it");
    ls.path = p.lexically_normal().string();
  } else {
    for (const auto& f : files) {
      const fs::path dir =
          fs::path(f).parent_path().empty() ? fs::path(".") : fs::path(f).parent_path();
      for (const fs::path& cand : {dir / kLabelFile, dir / ".." / "configs" / kLabelFile})
        if (fs::is_regular_file(cand)) {
          ls.path = cand.lexically_normal().string();
          break;
        }
      if (!ls.path.empty()) break;
    }
  }
  if (!ls.path.empty()) {
    ls.labels = std::make_unique<Labels>(Labels::load_csv(ls.path));
    ls.count = static_cast<int64_t>(ls.labels->size());
  }
  if (r.has("num_labels")) {
    const int64_t n = r.integer("num_labels", 0);
    if (n < 1) r.fail("num_labels", "must be at least 1");
    if (ls.labels && n != ls.count)
      r.fail("num_labels",
             std::to_string(n) + " disagrees with the " + std::to_string(ls.count) + " rows of " +
                 ls.path,
             "remove num_labels or fix the label file");
    ls.count = n;
  }
  return ls;
}

int64_t read_label(const Reader& r, const toml::node& n, const std::string& path,
                   const LabelSet& ls) {
  r.note(path, n);
  if (n.is_integer()) {
    const int64_t v = n.as_integer()->get();
    if (v < 0 || v >= ls.count)
      fail_node(
          n, path,
          "label " + std::to_string(v) + " is outside 0.." + std::to_string(ls.count - 1) +
              (ls.path.empty() ? " (the AudioSet classes)" : " (the rows of " + ls.path + ")"),
          "use the index column of the label CSV");
    return v;
  }
  if (n.is_string()) {
    if (!ls.labels)
      fail_node(n, path, "a label by name needs the label CSV, and none was found",
                "add labels = \"path/to/audioset_labels.csv\", or give the index");
    return ls.labels->index_of(n.as_string()->get(), file_of(n, r.root()), where(line_of(n), path));
  }
  fail_node(n, path, "expected a class index or name, got " + type_name(n));
}

void read_generation(const Reader& r, GenerationSpec& g) {
  const bool has_d = r.has("generation.duration"), has_f = r.has("generation.frames");
  if (has_d && has_f)
    r.fail("generation.frames", "both duration and frames are given", "keep one of them");
  if (has_f) {
    g.frames = r.integer("generation.frames", 0);
    if (g.frames < 1) r.fail("generation.frames", "must be at least 1");
    g.from_duration = false;
    g.duration = static_cast<double>(g.frames) / kAssumedFrameRate;
  } else {
    g.duration = r.number("generation.duration", 4.0);
    if (g.duration <= 0) r.fail("generation.duration", "must be positive");
    g.from_duration = true;
    g.frames = std::max<int64_t>(1, std::llround(g.duration * kAssumedFrameRate));
  }
  g.greedy = r.boolean("generation.greedy", false);
  g.top_k = r.integer("generation.top_k", 250);
  if (g.top_k < 0) r.fail("generation.top_k", "must be >= 0", "0 turns the top-k filter off");
  g.temperature = r.number("generation.temperature", 1.0);
  if (g.temperature <= 0) r.fail("generation.temperature", "must be positive");
  g.guidance = r.number("generation.guidance", 3.0);
  if (g.guidance < 0) r.fail("generation.guidance", "must be >= 0");
  const int64_t seed = r.integer("generation.seed", 0);
  if (seed < 0) r.fail("generation.seed", "must be >= 0");
  g.seed = static_cast<uint64_t>(seed);
  g.dtype = r.str("generation.dtype", "float32");
  if (g.dtype != "float32" && g.dtype != "float16" && g.dtype != "bfloat16")
    r.fail("generation.dtype", "unknown dtype '" + g.dtype + "'",
           "use float32, float16 or bfloat16");
  g.device = r.str("generation.device", "auto");
  if (g.device != "auto" && g.device != "cpu" && g.device != "cuda")
    r.fail("generation.device", "unknown device '" + g.device + "'", "use auto, cpu or cuda");
}

void read_prompts(const Reader& r, JobSpec& s) {
  s.prompt_template = r.required_str(
      "prompts.template",
      "include ../configs/prompt_template.toml or set [prompts] template = \"... [SLOT] ...\"");
  const auto slots = template_slots(s.prompt_template);
  if (slots.empty())
    r.fail("prompts.template", "has no [SLOT] placeholders", "e.g. \"a [GENRE] piece\"");
  s.vocab.clear();
  for (const auto& [path, e] : r.flat()) {
    if (path.rfind("prompts.vocab.", 0) != 0) continue;
    const std::string slot = path.substr(14);
    if (std::find(slots.begin(), slots.end(), slot) == slots.end())
      r.fail(path, "slot '" + slot + "' is not in the template",
             "the template's slots: " + join(slots));
    s.vocab[slot] = r.strings(path, {});
  }
  for (const auto& slot : slots)
    if (!s.vocab.count(slot))
      r.fail("prompts.vocab." + slot, "the template's slot [" + slot + "] has no vocabulary",
             "add [prompts.vocab] " + slot + " = [\"...\", ...]");
  s.slot_order = r.strings("prompts.slot_order", {});
  if (s.slot_order.empty())
    r.fail("prompts.slot_order", "missing",
           "list the slots in the order of the prompt loops, outermost first, e.g. "
           "[\"GENRE\", \"MOOD\", \"INSTRUMENTS\", \"TEMPO\"]");
  for (size_t i = 0; i < s.slot_order.size(); ++i)
    if (!s.vocab.count(s.slot_order[i]))
      r.fail("prompts.slot_order[" + std::to_string(i) + "]",
             "slot '" + s.slot_order[i] + "' is not in the template",
             "the template's slots: " + join(slots));
  for (const auto& slot : slots)
    if (std::find(s.slot_order.begin(), s.slot_order.end(), slot) == s.slot_order.end())
      r.fail("prompts.slot_order", "the template's slot " + slot + " is missing");
  s.prompts_per_concept = r.integer("prompts.per_concept", 100);
  if (s.prompts_per_concept < 1) r.fail("prompts.per_concept", "must be at least 1");
}

void read_concepts(const Reader& r, JobSpec& s, const LabelSet& ls) {
  const auto slots = template_slots(s.prompt_template);
  std::map<std::string, ConceptSpec> library;
  for (const auto& [path, e] : r.flat()) {
    const auto parts = split_path(path);
    if (parts.size() != 2 || parts[0] != "concept") continue;
    const std::string& name = parts[1];
    const std::string p = "concept." + name;
    ConceptSpec c;
    c.name = name;
    c.slot = r.required_str(p + ".slot", "the template slot it fixes, e.g. slot = \"GENRE\"");
    if (std::find(slots.begin(), slots.end(), c.slot) == slots.end())
      r.fail(p + ".slot", "slot '" + c.slot + "' is not in the template",
             "the template's slots: " + join(slots));
    c.value = r.str(p + ".value", name);
    if (c.value.empty()) r.fail(p + ".value", "is empty");
    const bool outside = r.boolean(p + ".outside_vocab", false);
    const auto& vocab = s.vocab.at(c.slot);
    if (!outside && std::find(vocab.begin(), vocab.end(), c.value) == vocab.end())
      r.fail(
          r.has(p + ".value") ? p + ".value" : p,
          "value '" + c.value + "' is not in the " + c.slot + " vocabulary (" + join(vocab) + ")",
          "fix the spelling, or set outside_vocab = true to fill the slot with it anyway, "
          "as the paper does for hiphop");
    if (!r.has(p + ".label")) r.fail(p + ".label", "missing", "the class index for the odds");
    c.label = read_label(r, *r.find(p + ".label"), p + ".label", ls);
    if (const toml::array* a = r.array(p + ".relevant")) {
      if (a->empty()) r.fail(p + ".relevant", "is empty", "list the relevant class indices");
      for (size_t i = 0; i < a->size(); ++i) {
        const std::string ep = p + ".relevant[" + std::to_string(i) + "]";
        const int64_t v = read_label(r, *a->get(i), ep, ls);
        if (std::find(c.relevant.begin(), c.relevant.end(), v) != c.relevant.end())
          fail_node(*a->get(i), ep, "label " + std::to_string(v) + " is listed twice");
        c.relevant.push_back(v);
      }
    } else {
      c.relevant = {c.label};
    }
    library[name] = std::move(c);
  }
  std::vector<std::string> defined;
  for (const auto& kv : library) defined.push_back(kv.first);
  const auto names = r.strings("concepts", {});
  if (names.empty())
    r.fail("concepts", "missing",
           "list the concepts to sweep, e.g. concepts = [\"guitar\", \"piano\"]" +
               (defined.empty() ? std::string("; none is defined: include "
                                              "../configs/paper_concepts.toml")
                                : "; defined: " + join(defined)));
  s.concepts.clear();
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = library.find(names[i]);
    if (it == library.end())
      r.fail("concepts[" + std::to_string(i) + "]", "unknown concept '" + names[i] + "'",
             defined.empty() ? "define it as [concept." + names[i] + "]"
                             : "defined concepts: " + join(defined));
    s.concepts.push_back(it->second);
  }
}

void read_stages(const Reader& r, JobSpec& s) {
  // A stage runs when its table is there and enabled is not false; [baseline] unless disabled.
  BaselineStage& b = s.baseline;
  b.enabled = r.boolean("baseline.enabled", true);
  const std::string means = r.str("baseline.means", "per_step");
  if (means != "per_step" && means != "frame_avg")
    r.fail("baseline.means", "unknown mode '" + means + "'", "use per_step or frame_avg");
  b.per_step_means = means == "per_step";
  b.self_similarity = r.boolean("baseline.self_similarity", true);

  LensStage& l = s.lens;
  l.enabled = r.boolean("lens.enabled", r.has("lens"));
  l.layers.clear();
  l.all_layers = r.all_or_ints("lens.layers", 1, l.layers, "layer counts k");

  InterventionStage& iv = s.interventions;
  iv.enabled = r.boolean("interventions.enabled", r.has("interventions"));
  iv.techniques = r.strings("interventions.techniques", {"replace", "adjust"});
  for (size_t i = 0; i < iv.techniques.size(); ++i) {
    mg::InterventionOp op;
    if (!mg::parse_op(iv.techniques[i], &op))
      r.fail("interventions.techniques[" + std::to_string(i) + "]",
             "unknown technique '" + iv.techniques[i] + "'",
             "use replace, adjust, add, scale or zero");
  }
  const bool scale = std::count(iv.techniques.begin(), iv.techniques.end(), "scale") > 0;
  iv.scale_factor = r.number("interventions.scale_factor", 0.0);
  if (scale && !r.has("interventions.scale_factor"))
    r.fail("interventions.scale_factor", "missing", "the scale technique needs scale_factor = x");

  // Pairs: "all" = every ordered pair a != b in concept order (the paper's loop).
  iv.pairs.clear();
  iv.all_pairs = true;
  const toml::node* pn = r.find("interventions.pairs");
  if (pn && pn->is_string() && pn->as_string()->get() == "all") {
  } else if (pn && pn->is_array()) {
    iv.all_pairs = false;
    const toml::array& a = *pn->as_array();
    if (a.empty())
      fail_node(*pn, "interventions.pairs", "is empty", "list [a, b] pairs or \"all\"");
    for (size_t i = 0; i < a.size(); ++i) {
      const toml::node& e = *a.get(i);
      const std::string ep = "interventions.pairs[" + std::to_string(i) + "]";
      r.note(ep, e);
      const toml::array* pa = e.as_array();
      if (!pa || pa->size() != 2 || !pa->get(0)->is_string() || !pa->get(1)->is_string())
        fail_node(e, ep, "expected a pair [\"original\", \"desired\"] of concept names");
      const std::string an = pa->get(0)->as_string()->get(), bn = pa->get(1)->as_string()->get();
      const size_t ai = s.concept_index(an), bi = s.concept_index(bn);
      for (const auto& n : {an, bn})
        if (s.concept_index(n) == std::string::npos)
          fail_node(
              e, ep, "'" + n + "' is not one of the job's concepts", "the job's concepts: " + [&] {
                std::vector<std::string> v;
                for (const auto& c : s.concepts) v.push_back(c.name);
                return join(v);
              }());
      if (ai == bi) fail_node(e, ep, "a pair needs two different concepts");
      if (std::find(iv.pairs.begin(), iv.pairs.end(), std::make_pair(ai, bi)) != iv.pairs.end())
        fail_node(e, ep, "pair [" + an + ", " + bn + "] is listed twice");
      iv.pairs.emplace_back(ai, bi);
    }
  } else if (pn) {
    fail_node(*pn, "interventions.pairs", "expected \"all\" or a list of [a, b] pairs");
  }
  if (iv.all_pairs)
    for (size_t ca = 0; ca < s.concepts.size(); ++ca)
      for (size_t cb = 0; cb < s.concepts.size(); ++cb)
        if (ca != cb) iv.pairs.emplace_back(ca, cb);
  if (iv.enabled && iv.pairs.empty())
    r.fail("interventions.pairs", "no pairs: interventions need at least two concepts");

  // Components: a list, or "heads" = every head of both attention components.
  const toml::node* cn = r.find("interventions.components");
  const bool comp_heads = cn && cn->is_string() && cn->as_string()->get() == "heads";
  if (cn && cn->is_string() && !comp_heads)
    fail_node(*cn, "interventions.components",
              "expected a list of components or \"heads\", got \"" + cn->as_string()->get() + "\"");
  iv.components = comp_heads
                      ? std::vector<std::string>{"self_attn", "cross_attn"}
                      : r.strings("interventions.components", {"self_attn", "cross_attn", "mlp"});
  for (size_t i = 0; i < iv.components.size(); ++i) {
    const auto& c = iv.components[i];
    if (c != "self_attn" && c != "cross_attn" && c != "mlp")
      r.fail("interventions.components[" + std::to_string(i) + "]", "unknown component '" + c + "'",
             "use self_attn, cross_attn, mlp (or \"heads\")");
  }
  iv.heads = r.boolean("interventions.heads", comp_heads);
  if (comp_heads && !iv.heads)
    r.fail("interventions.heads", "components = \"heads\" but heads = false", "drop one");
  if (iv.heads && std::count(iv.components.begin(), iv.components.end(), "mlp"))
    r.fail("interventions.heads", "the mlp component has no heads",
           "list only self_attn and/or cross_attn with heads = true");

  iv.layers.clear();
  iv.all_layers = r.all_or_ints("interventions.layers", 0, iv.layers, "layer indices (from 0)");

  iv.windows.clear();
  if (const toml::array* wa = r.array("interventions.windows")) {
    if (wa->empty())
      r.fail("interventions.windows", "is empty", "omit it for the whole generation");
    for (size_t i = 0; i < wa->size(); ++i) {
      const toml::node& e = *wa->get(i);
      const std::string ep = "interventions.windows[" + std::to_string(i) + "]";
      r.note(ep, e);
      const toml::array* w = e.as_array();
      const bool end_open =
          w && w->size() == 2 && w->get(1)->is_string() && w->get(1)->as_string()->get() == "end";
      if (!w || w->size() != 2 || !w->get(0)->is_integer() ||
          !(w->get(1)->is_integer() || end_open))
        fail_node(e, ep, "expected a step window [t0, t1] (t1 may be \"end\")");
      mg::StepWindow sw;
      sw.t0 = w->get(0)->as_integer()->get();
      if (!end_open) sw.t1 = w->get(1)->as_integer()->get();
      if (sw.t0 < 0 || sw.t1 <= sw.t0)
        fail_node(e, ep,
                  "window [" + std::to_string(sw.t0) + ", " + std::to_string(sw.t1) +
                      ") is empty or negative",
                  "need 0 <= t0 < t1");
      for (const auto& o : iv.windows)
        if (o.t0 == sw.t0 && o.t1 == sw.t1) fail_node(e, ep, "window is listed twice");
      iv.windows.push_back(sw);
    }
  } else {
    iv.windows = {mg::StepWindow{}};
  }
  iv.both_halves = r.boolean("interventions.both_halves", false);
  iv.compat_row0_history = r.boolean("interventions.compat_row0_history", false);
  iv.compat_last_layer_only = r.boolean("interventions.compat_last_layer_only", false);

  ExtremesStage& x = s.extremes;
  x.enabled = r.boolean("extremes.enabled", r.has("extremes"));
  x.top_k = r.integer("extremes.top_k", 5);
  if (x.top_k < 1) r.fail("extremes.top_k", "must be at least 1");

  if (!b.enabled && !l.enabled && !iv.enabled)
    r.fail("baseline.enabled", "no stage is enabled",
           "enable [baseline], [lens] or [interventions]");
  if (iv.enabled && !b.enabled)
    r.fail("interventions.enabled",
           "interventions need the baseline stage (their means and the \"before\" scores)",
           "set [baseline] enabled = true");
  if (x.enabled && !iv.enabled)
    r.fail("extremes.enabled", "extremes rank intervention effects, but [interventions] is off",
           "enable [interventions] or disable [extremes]");
}

SlurmSpec read_slurm(const Reader& r) {
  SlurmSpec sl;
  sl.present = r.has("slurm");
  if (!sl.present) return sl;
  sl.partition = r.str("slurm.partition", "");
  sl.nodes = r.integer("slurm.nodes", 1);
  if (sl.nodes < 1) r.fail("slurm.nodes", "must be at least 1");
  sl.gpus_per_node = r.integer("slurm.gpus_per_node", 1);
  if (sl.gpus_per_node < 0) r.fail("slurm.gpus_per_node", "must be >= 0", "0 = CPU-only tasks");
  sl.cpus_per_task = r.integer("slurm.cpus_per_task", 8);
  if (sl.cpus_per_task < 1) r.fail("slurm.cpus_per_task", "must be at least 1");
  sl.mem = r.str("slurm.mem", "");
  sl.time = r.str("slurm.time", "");
  if (!sl.time.empty()) {
    // Slurm's forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
    bool ok = true;
    for (char c : sl.time) ok = ok && ((c >= '0' && c <= '9') || c == ':' || c == '-');
    ok = ok && std::count(sl.time.begin(), sl.time.end(), '-') <= 1 &&
         std::count(sl.time.begin(), sl.time.end(), ':') <= 2 && sl.time.front() != ':' &&
         sl.time.back() != ':' && sl.time.back() != '-' && sl.time.front() != '-';
    if (!ok) r.fail("slurm.time", "'" + sl.time + "' is not a Slurm time", "e.g. \"1-00:00:00\"");
  }
  sl.account = r.str("slurm.account", "");
  sl.signal_seconds = r.integer("slurm.signal_seconds", 300);
  if (sl.signal_seconds < 1 || sl.signal_seconds > 65535)
    r.fail("slurm.signal_seconds", "must be in 1..65535 (sbatch --signal's limit)");
  sl.extra_sbatch = r.strings("slurm.extra_sbatch", {}, true);
  return sl;
}

bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return false;
  return n != "." && n != "..";
}

JobSpec build(const Loader& loader, const std::string& root, const std::string& default_name) {
  const Flat& flat = loader.flat();
  check_keys(flat);
  JobSpec s;
  s.source = root;
  Reader r(flat, root, s);

  s.name = r.str("name", default_name);
  if (!valid_name(s.name))
    r.fail("name", "'" + s.name + "' is not usable in file names",
           "use letters, digits, '_', '-', '.'");
  s.model = r.required_str("model", "the model folder, e.g. model = \"/path/to/musicgen-small\"");
  if (s.model.empty()) r.fail("model", "is empty");
  s.store = r.str("store", "results/" + s.name + ".h5");
  if (s.store.empty()) r.fail("store", "is empty");
  s.batch_size = r.integer("batch_size", 16);
  if (s.batch_size < 1) r.fail("batch_size", "must be at least 1");
  s.checkpoint_seconds = r.number("checkpoint_seconds", 300);
  if (s.checkpoint_seconds <= 0) r.fail("checkpoint_seconds", "must be positive");

  const LabelSet ls = read_labels(r, loader.files());
  s.labels_path = ls.path;
  s.num_labels = ls.count;

  s.classifier.kind =
      r.required_str("classifier.kind", "[classifier] kind = \"demo\" or \"torchscript\"");
  if (s.classifier.kind == "torchscript") {
    s.classifier.path = r.required_str("classifier.path", "the TorchScript file, e.g. passt.pt");
    if (s.classifier.path.empty()) r.fail("classifier.path", "is empty");
  } else if (s.classifier.kind == "demo") {
    if (r.has("classifier.path"))
      r.fail("classifier.path", "the demo classifier is built in and reads no file",
             "remove path, or use kind = \"torchscript\"");
  } else {
    r.fail("classifier.kind", "unknown classifier '" + s.classifier.kind + "'",
           "use \"demo\" or \"torchscript\"");
  }

  read_generation(r, s.generation);
  read_prompts(r, s);
  read_concepts(r, s, ls);
  for (const auto& c : s.concepts) {
    const int64_t n = prompt_combinations(s, c.slot);
    if (n < s.prompts_per_concept)
      r.fail("prompts.per_concept",
             std::to_string(s.prompts_per_concept) + " prompts per concept, but concept '" +
                 c.name + "' has only " + std::to_string(n) + " distinct prompts",
             "lower per_concept or add vocabulary");
  }
  read_stages(r, s);
  s.slurm = read_slurm(r);

  const fs::path model_dir(s.model);
  std::error_code ec;
  if (fs::is_directory(model_dir, ec))
    validate_against_model(s, MusicgenConfig::from_file((model_dir / "config.json").string()));
  return s;
}

// ---------------------------------------------------------------------------------------------
// Text forms.

// Shortest text that reads back to the same double ("30", "0.1", "1e-07").
std::string fmt_double(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::string toml_double(double v) {
  std::string s = fmt_double(v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string quote(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\t':
        o += "\\t";
        break;
      case '\r':
        o += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o + "\"";
}

std::string str_list(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (const auto& s : v) q.push_back(quote(s));
  return "[" + join(q) + "]";
}

std::string int_list(const std::vector<int64_t>& v) {
  std::vector<std::string> q;
  for (auto x : v) q.push_back(std::to_string(x));
  return "[" + join(q) + "]";
}

std::string b2s(bool b) { return b ? "true" : "false"; }

std::string windows_text(const std::vector<mg::StepWindow>& ws) {
  std::vector<std::string> q;
  for (const auto& w : ws)
    q.push_back("[" + std::to_string(w.t0) + ", " +
                (w.t1 == std::numeric_limits<int64_t>::max() ? std::string("\"end\"")
                                                             : std::to_string(w.t1)) +
                "]");
  return "[" + join(q) + "]";
}

std::string pairs_text(const JobSpec& s) {
  std::vector<std::string> q;
  for (const auto& [a, b] : s.interventions.pairs)
    q.push_back("[" + quote(s.concepts[a].name) + ", " + quote(s.concepts[b].name) + "]");
  return "[" + join(q) + "]";
}

std::vector<std::string> concept_names(const JobSpec& s) {
  std::vector<std::string> v;
  for (const auto& c : s.concepts) v.push_back(c.name);
  return v;
}

// The result-relevant settings, in a fixed order.
std::vector<std::pair<std::string, std::string>> canonical_items(const JobSpec& s) {
  std::vector<std::pair<std::string, std::string>> v;
  auto add = [&](const std::string& k, const std::string& val) { v.emplace_back(k, val); };
  add("format", quote("mgsweep.spec/1"));
  add("model", quote(s.model));
  add("classifier.kind", quote(s.classifier.kind));
  if (s.classifier.kind == "torchscript") add("classifier.path", quote(s.classifier.path));
  add("num_labels", std::to_string(s.num_labels));
  const auto& g = s.generation;
  add("generation.frames", std::to_string(g.frames));
  add("generation.greedy", b2s(g.greedy));
  add("generation.top_k", std::to_string(g.top_k));
  add("generation.temperature", fmt_double(g.temperature));
  add("generation.guidance", fmt_double(g.guidance));
  add("generation.seed", std::to_string(g.seed));
  add("generation.dtype", quote(g.dtype));
  add("prompts.template", quote(s.prompt_template));
  add("prompts.slot_order", str_list(s.slot_order));
  for (const auto& [slot, vals] : s.vocab) add("prompts.vocab." + slot, str_list(vals));
  add("prompts.per_concept", std::to_string(s.prompts_per_concept));
  add("concepts", str_list(concept_names(s)));
  for (const auto& c : s.concepts) {
    const std::string p = "concept." + c.name + ".";
    add(p + "slot", quote(c.slot));
    add(p + "value", quote(c.value));
    add(p + "label", std::to_string(c.label));
    add(p + "relevant", int_list(c.relevant));
  }
  add("baseline.enabled", b2s(s.baseline.enabled));
  if (s.baseline.enabled) {
    add("baseline.means", quote(s.baseline.per_step_means ? "per_step" : "frame_avg"));
    add("baseline.self_similarity", b2s(s.baseline.self_similarity));
  }
  add("lens.enabled", b2s(s.lens.enabled));
  if (s.lens.enabled)
    add("lens.layers", s.lens.layers.empty() ? quote("all") : int_list(s.lens.layers));
  const auto& iv = s.interventions;
  add("interventions.enabled", b2s(iv.enabled));
  if (iv.enabled) {
    add("interventions.techniques", str_list(iv.techniques));
    if (std::count(iv.techniques.begin(), iv.techniques.end(), "scale"))
      add("interventions.scale_factor", fmt_double(iv.scale_factor));
    add("interventions.pairs", pairs_text(s));
    add("interventions.components", str_list(iv.components));
    add("interventions.heads", b2s(iv.heads));
    add("interventions.layers", iv.layers.empty() ? quote("all") : int_list(iv.layers));
    add("interventions.windows", windows_text(iv.windows));
    add("interventions.both_halves", b2s(iv.both_halves));
    add("interventions.compat_row0_history", b2s(iv.compat_row0_history));
    add("interventions.compat_last_layer_only", b2s(iv.compat_last_layer_only));
  }
  add("extremes.enabled", b2s(s.extremes.enabled));
  if (s.extremes.enabled) add("extremes.top_k", std::to_string(s.extremes.top_k));
  return v;
}

}  // namespace

// -------------------------------------------------------------------------------------------------

size_t JobSpec::concept_index(const std::string& n) const {
  for (size_t i = 0; i < concepts.size(); ++i)
    if (concepts[i].name == n) return i;
  return std::string::npos;
}

std::string JobSpec::canonical() const {
  std::string out;
  for (const auto& [k, v] : canonical_items(*this)) out += k + " = " + v + "\n";
  return out;
}

std::string JobSpec::result_hash() const {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : canonical()) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, h);
  return buf;
}

std::vector<std::string> JobSpec::result_differences(const JobSpec& a, const JobSpec& b) {
  const auto ia = canonical_items(a), ib = canonical_items(b);
  std::map<std::string, std::string> mb(ib.begin(), ib.end());
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (const auto& [k, va] : ia) {
    seen.insert(k);
    auto it = mb.find(k);
    const std::string vb = it == mb.end() ? "(not set)" : it->second;
    if (va != vb) out.push_back(k + ": " + va + " -> " + vb);
  }
  for (const auto& [k, vb] : ib)
    if (!seen.count(k)) out.push_back(k + ": (not set) -> " + vb);
  return out;
}

std::string JobSpec::to_toml() const {
  std::ostringstream o;
  o << "# mgsweep job spec, resolved from " << source << "\n";
  o << "name = " << quote(name) << "\n";
  o << "model = " << quote(model) << "\n";
  o << "store = " << quote(store) << "\n";
  o << "batch_size = " << batch_size << "\n";
  o << "checkpoint_seconds = " << toml_double(checkpoint_seconds) << "\n";
  o << "num_labels = " << num_labels << "\n";
  o << "concepts = " << str_list(concept_names(*this)) << "\n";

  o << "\n[classifier]\nkind = " << quote(classifier.kind) << "\n";
  if (classifier.kind == "torchscript") o << "path = " << quote(classifier.path) << "\n";

  const auto& g = generation;
  o << "\n[generation]\n";
  if (g.from_duration && !model_checked)
    o << "duration = " << toml_double(g.duration) << "\n";
  else
    o << "frames = " << g.frames << "\n";
  o << "greedy = " << b2s(g.greedy) << "\ntop_k = " << g.top_k
    << "\ntemperature = " << toml_double(g.temperature)
    << "\nguidance = " << toml_double(g.guidance) << "\nseed = " << static_cast<int64_t>(g.seed)
    << "\ndtype = " << quote(g.dtype) << "\ndevice = " << quote(g.device) << "\n";

  o << "\n[prompts]\ntemplate = " << quote(prompt_template)
    << "\nslot_order = " << str_list(slot_order) << "\nper_concept = " << prompts_per_concept
    << "\n\n[prompts.vocab]\n";
  for (const auto& [slot, vals] : vocab) o << slot << " = " << str_list(vals) << "\n";

  for (const auto& c : concepts) {
    o << "\n[concept." << c.name << "]\nslot = " << quote(c.slot) << "\nvalue = " << quote(c.value)
      << "\nlabel = " << c.label << "\nrelevant = " << int_list(c.relevant) << "\n";
    const auto& v = vocab.at(c.slot);
    if (std::find(v.begin(), v.end(), c.value) == v.end()) o << "outside_vocab = true\n";
  }

  o << "\n[baseline]\nenabled = " << b2s(baseline.enabled)
    << "\nmeans = " << quote(baseline.per_step_means ? "per_step" : "frame_avg")
    << "\nself_similarity = " << b2s(baseline.self_similarity) << "\n";
  o << "\n[lens]\nenabled = " << b2s(lens.enabled)
    << "\nlayers = " << (lens.layers.empty() ? quote("all") : int_list(lens.layers)) << "\n";
  const auto& iv = interventions;
  o << "\n[interventions]\nenabled = " << b2s(iv.enabled)
    << "\ntechniques = " << str_list(iv.techniques);
  if (std::count(iv.techniques.begin(), iv.techniques.end(), "scale"))
    o << "\nscale_factor = " << toml_double(iv.scale_factor);
  o << "\npairs = " << (iv.pairs.empty() ? quote("all") : pairs_text(*this))
    << "\ncomponents = " << str_list(iv.components) << "\nheads = " << b2s(iv.heads)
    << "\nlayers = " << (iv.layers.empty() ? quote("all") : int_list(iv.layers))
    << "\nwindows = " << windows_text(iv.windows) << "\nboth_halves = " << b2s(iv.both_halves)
    << "\ncompat_row0_history = " << b2s(iv.compat_row0_history)
    << "\ncompat_last_layer_only = " << b2s(iv.compat_last_layer_only) << "\n";
  o << "\n[extremes]\nenabled = " << b2s(extremes.enabled) << "\ntop_k = " << extremes.top_k
    << "\n";

  if (slurm.present) {
    o << "\n[slurm]\npartition = " << quote(slurm.partition) << "\nnodes = " << slurm.nodes
      << "\ngpus_per_node = " << slurm.gpus_per_node << "\ncpus_per_task = " << slurm.cpus_per_task
      << "\nmem = " << quote(slurm.mem) << "\ntime = " << quote(slurm.time)
      << "\naccount = " << quote(slurm.account) << "\nsignal_seconds = " << slurm.signal_seconds
      << "\nextra_sbatch = " << str_list(slurm.extra_sbatch) << "\n";
  }
  return o.str();
}

JobSpec load_job(const std::string& path) {
  Loader loader;
  loader.load_file(path);
  return build(loader, path, fs::path(path).stem().string());
}

JobSpec load_job_text(const std::string& text, const std::string& origin) {
  Loader loader;
  loader.load_text(text, origin);
  return build(loader, origin, "job");
}

void validate_against_model(JobSpec& s, const mg::MusicgenConfig& cfg) {
  const int64_t L = cfg.decoder.num_hidden_layers, H = cfg.decoder.num_attention_heads;
  const std::string model_desc = "the model at " + (cfg.source.empty() ? s.model : cfg.source);

  auto& g = s.generation;
  if (g.from_duration) {
    int64_t rate = kAssumedFrameRate;
    if (!cfg.audio.upsampling_ratios.empty() && cfg.audio.hop_length() > 0) rate = cfg.frame_rate();
    g.frames = std::max<int64_t>(1, std::llround(g.duration * static_cast<double>(rate)));
  }
  const int64_t steps = g.frames + cfg.decoder.max_delay();
  const std::string gkey = g.from_duration ? "generation.duration" : "generation.frames";
  if (cfg.decoder.max_position_embeddings > 0 && steps > cfg.decoder.max_position_embeddings)
    fail_at(s, gkey,
            std::to_string(g.frames) + " frames need " + std::to_string(steps) +
                " decoder steps; " + model_desc + " has " +
                std::to_string(cfg.decoder.max_position_embeddings) + " positions",
            "generate less audio");

  if (s.lens.all_layers) {
    s.lens.layers.clear();
    for (int64_t k = 1; k <= L; ++k) s.lens.layers.push_back(k);
  }
  for (size_t i = 0; i < s.lens.layers.size(); ++i)
    if (s.lens.layers[i] > L)
      fail_at(s, "lens.layers[" + std::to_string(i) + "]",
              "k = " + std::to_string(s.lens.layers[i]) + " is past " + model_desc + "'s " +
                  std::to_string(L) + " layers",
              "k counts the layers kept: 1.." + std::to_string(L));

  auto& iv = s.interventions;
  if (iv.all_layers) {
    iv.layers.clear();
    for (int64_t i = 0; i < L; ++i) iv.layers.push_back(i);
  }
  for (size_t i = 0; i < iv.layers.size(); ++i)
    if (iv.layers[i] >= L)
      fail_at(s, "interventions.layers[" + std::to_string(i) + "]",
              "layer " + std::to_string(iv.layers[i]) + " is past " + model_desc + "'s " +
                  std::to_string(L) + " layers",
              "layers count from 0: 0.." + std::to_string(L - 1));
  for (size_t i = 0; i < iv.windows.size(); ++i)
    if (iv.windows[i].t0 >= steps)
      fail_at(s, "interventions.windows[" + std::to_string(i) + "]",
              "the window starts at step " + std::to_string(iv.windows[i].t0) +
                  " but the generation has " + std::to_string(steps) + " steps",
              "steps run 0.." + std::to_string(steps - 1));
  if (iv.heads && H < 1) fail_at(s, "interventions.heads", model_desc + " has no heads");

  if (s.extremes.enabled && iv.enabled) {
    const int64_t per_layer = static_cast<int64_t>(iv.components.size()) * (iv.heads ? H : 1);
    const int64_t targets = per_layer * static_cast<int64_t>(iv.layers.size()) *
                            static_cast<int64_t>(iv.windows.size());
    if (s.extremes.top_k > targets)
      fail_at(s, "extremes.top_k",
              "top " + std::to_string(s.extremes.top_k) + " of only " + std::to_string(targets) +
                  " intervention targets per prompt",
              "lower top_k");
  }
  s.model_checked = true;
  s.model_layers = L;
  s.model_heads = H;
}

std::vector<mg::HookSite> intervention_sites(const JobSpec& s) {
  const auto& iv = s.interventions;
  if (iv.layers.empty())
    throw std::logic_error("intervention_sites: layers are \"all\"; call validate_against_model");
  if (iv.heads && s.model_heads < 1)
    throw std::logic_error("intervention_sites: head count unknown; call validate_against_model");
  std::vector<mg::HookSite> out;
  for (int64_t layer : iv.layers)
    for (const auto& c : iv.components) {
      mg::HookSite site;
      site.layer = layer;
      if (c == "mlp") {
        site.kind = mg::SiteKind::Mlp;
        out.push_back(site);
        continue;
      }
      const bool self = c == "self_attn";
      if (!iv.heads) {
        site.kind = self ? mg::SiteKind::SelfAttn : mg::SiteKind::CrossAttn;
        out.push_back(site);
        continue;
      }
      site.kind = self ? mg::SiteKind::SelfAttnHead : mg::SiteKind::CrossAttnHead;
      for (int64_t h = 0; h < s.model_heads; ++h) {
        site.head = h;
        out.push_back(site);
      }
    }
  return out;
}

SlurmSpec load_slurm_profile(const std::string& path) {
  Loader loader;
  loader.load_file(path);
  for (const auto& [p, e] : loader.flat())
    if (p != "slurm" && p.rfind("slurm.", 0) != 0)
      fail_node(*e.node, p, "a cluster profile holds only a [slurm] table",
                "move '" + p + "' into the job file");
  check_keys(loader.flat());
  JobSpec scratch;
  scratch.source = path;
  Reader r(loader.flat(), path, scratch);
  if (!r.has("slurm")) throw InputError(path, "slurm", "missing", "add a [slurm] table");
  return read_slurm(r);
}

}  // namespace mg::sweep
