// Internal to the job-spec loader (spec.cpp, spec_keys.cpp, spec_read.cpp, spec_text.cpp): NOT
// public API, include it from nothing else; the public API is sweep/spec.h.
//
// What the spec_*.cpp files share: the TOML Loader (every file and its includes parsed and
// flattened into key path -> node, later layers overriding earlier ones), check_keys against
// the key schema, the typed Reader (every read records where the key was written; every error
// names the file, line and key), and small helpers. Loader and Reader are defined here; the
// schema and the functions declared here are in spec_keys.cpp, build/read_slurm in spec_read.cpp.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "musicgen/errors.h"
#include "sweep/spec.h"

namespace mg::sweep::spec_detail {

namespace fs = std::filesystem;

constexpr int64_t kAssumedFrameRate = 50;  // MusicGen's EnCodec: 32000 Hz / 640

// Key paths (spec_keys.cpp). A path is the dotted key ("generation.top_k").
std::vector<std::string> split_path(const std::string& p);
std::pair<std::string, std::string> parent_and_key(const std::string& path);

// ---------------------------------------------------------------------------------------------
// Loading: every file parsed into its own table (kept alive), flattened into key path -> node,
// later layers overriding earlier ones.

struct Entry {
  const toml::node* node = nullptr;
  bool is_table() const { return node->is_table(); }
};
using Flat = std::map<std::string, Entry>;

std::string file_of(const toml::node& n, const std::string& fallback);
int64_t line_of(const toml::node& n);
std::string where(int64_t line, const std::string& path);
[[noreturn]] void fail_node(const toml::node& n, const std::string& path,
                            const std::string& problem, const std::string& fix = "");
std::string type_name(const toml::node& n);
bool valid_key_chars(const std::string& k);
std::string read_text_file(const std::string& path, const std::string& what);

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

// Every key in `flat` is in the schema, and tables and values are where the schema has them.
void check_keys(const Flat& flat);

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
    const double v = any_number(path, def);
    if (!std::isfinite(v)) fail(path, "expected a finite number");
    return v;
  }
  // A number, nan and inf included: for keys whose own check (generation_settings.h) words
  // the error as the command line does.
  double any_number(const std::string& path, double def) const {
    const toml::node* n = find(path);
    if (!n) return def;
    if (n->is_integer()) return static_cast<double>(n->as_integer()->get());
    if (!n->is_floating_point()) fail_node(*n, path, "expected a number, got " + type_name(*n));
    return n->as_floating_point()->get();
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

// Throws the error for `path` at the location noted for it, or for the closest enclosing key
// that has one (for errors raised after reading, e.g. by validate_against_model).
[[noreturn]] void fail_at(const JobSpec& spec, const std::string& path, const std::string& problem,
                          const std::string& fix = "");

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ");

// The sections read from a loaded job into a JobSpec (spec_read.cpp): check_keys, every
// section, and validate_against_model where the model folder exists.
JobSpec build(const Loader& loader, const std::string& root, const std::string& default_name);
// Every prompt the job encodes within the prompt limit of MODEL_DIR's tokenizer
// (spec_prompts.cpp); nothing where the folder has no tokenizer.json. Throws InputError at the
// key that makes the prompt long.
void check_prompt_lengths(const JobSpec& spec, const std::string& model_dir);
// The [slurm] table (present = false where there is none).
SlurmSpec read_slurm(const Reader& r);

}  // namespace mg::sweep::spec_detail
