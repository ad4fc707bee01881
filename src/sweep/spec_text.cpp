// The text forms of a job spec: canonical() (the result-relevant settings, one "key = value"
// line each), result_hash(), result_differences() and to_toml(), with their formatting helpers.
#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "sweep/spec.h"
#include "sweep/spec_keys.h"

namespace mg::sweep {

using namespace spec_detail;

namespace {

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
  add("classifier.fit_length", quote(s.classifier.fit_length));
  add("num_labels", std::to_string(s.num_labels));
  const auto& g = s.generation;
  add("generation.frames", std::to_string(g.frames));
  add("generation.greedy", b2s(g.greedy));
  add("generation.top_k", std::to_string(g.top_k));
  add("generation.temperature", fmt_double(g.temperature));
  add("generation.guidance", fmt_double(g.guidance));
  add("generation.seed", std::to_string(g.seed));
  add("generation.shared_noise", b2s(g.shared_noise));
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
  }
  add("extremes.enabled", b2s(s.extremes.enabled));
  if (s.extremes.enabled) add("extremes.top_k", std::to_string(s.extremes.top_k));
  return v;
}

}  // namespace

// -------------------------------------------------------------------------------------------------

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
  if (stall_seconds > 0) o << "stall_seconds = " << toml_double(stall_seconds) << "\n";
  o << "num_labels = " << num_labels << "\n";
  o << "concepts = " << str_list(concept_names(*this)) << "\n";

  o << "\n[classifier]\nkind = " << quote(classifier.kind) << "\n";
  if (classifier.kind == "torchscript") o << "path = " << quote(classifier.path) << "\n";
  o << "fit_length = " << quote(classifier.fit_length) << "\n";

  const auto& g = generation;
  o << "\n[generation]\n";
  if (g.from_duration && !model_checked)
    o << "duration = " << toml_double(g.duration) << "\n";
  else
    o << "frames = " << g.frames << "\n";
  o << "shared_noise = " << b2s(g.shared_noise) << "\n";
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
    << "\n";
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

}  // namespace mg::sweep
