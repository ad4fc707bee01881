// Reading a job spec's sections (labels, classifier, generation, prompts, concepts, stages,
// slurm) from the Loader's key set into a validated JobSpec: build(). Loader, Reader and the key
// schema: spec_keys.h; the public entry points: spec.cpp.
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>

#include "classify/labels.h"
#include "musicgen/errors.h"
#include "musicgen/generation_settings.h"
#include "sweep/prompts.h"
#include "sweep/spec.h"
#include "sweep/spec_keys.h"

namespace mg::sweep::spec_detail {

namespace {

constexpr int64_t kAudioSetClasses = 527;
const char* const kLabelFile = "audioset_labels.csv";

// ---------------------------------------------------------------------------------------------
// The parts of a spec.

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

// The value's own rule (generation_settings.h, shared with `mgsweep generate`), at its key.
void check(const Reader& r, const std::string& path, const mg::SettingProblem& p) {
  if (!p.ok()) r.fail(path, p.problem, p.fix);
}

void read_generation(const Reader& r, GenerationSpec& g) {
  const bool has_d = r.has("generation.duration"), has_f = r.has("generation.frames");
  if (has_d && has_f)
    r.fail("generation.frames", "both duration and frames are given", "keep one of them");
  if (has_f) {
    g.frames = r.integer("generation.frames", 0);
    check(r, "generation.frames", mg::check_frames(g.frames));
    g.from_duration = false;
    g.duration = static_cast<double>(g.frames) / kAssumedFrameRate;
  } else {
    g.duration = r.any_number("generation.duration", 4.0);
    check(r, "generation.duration", mg::check_duration(g.duration));
    g.from_duration = true;
    g.frames = std::max<int64_t>(1, std::llround(g.duration * kAssumedFrameRate));
  }
  g.greedy = r.boolean("generation.greedy", false);
  g.top_k = r.integer("generation.top_k", 250);
  check(r, "generation.top_k", mg::check_top_k(g.top_k));
  g.temperature = r.any_number("generation.temperature", 1.0);
  check(r, "generation.temperature", mg::check_temperature(g.temperature));
  g.guidance = r.any_number("generation.guidance", 3.0);
  check(r, "generation.guidance", mg::check_guidance(g.guidance));
  const int64_t seed = r.integer("generation.seed", 0);
  check(r, "generation.seed", mg::check_seed(seed));
  g.seed = static_cast<uint64_t>(seed);
  g.shared_noise = r.boolean("generation.shared_noise", true);
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
  // Removed switches (they did not reproduce the original code exactly). Stores made before
  // keep them in their spec as false, so false is still read, and ignored.
  for (const char* k :
       {"interventions.compat_row0_history", "interventions.compat_last_layer_only"})
    if (r.boolean(k, false))
      r.fail(k, "was removed: it did not reproduce the original code exactly",
             "remove the key (README, \"Deliberate differences\", says what the original did)");

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

}  // namespace

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

namespace {

bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  for (char c : n)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return false;
  return n != "." && n != "..";
}

}  // namespace

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
  s.stall_seconds = r.number("stall_seconds", 0);
  if (!(s.stall_seconds >= 0) || !std::isfinite(s.stall_seconds))
    r.fail("stall_seconds", "must be 0 (derived from the measured batch times) or positive");

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
  s.classifier.fit_length = r.str("classifier.fit_length", "exact");
  if (s.classifier.fit_length != "exact" && s.classifier.fit_length != "pad" &&
      s.classifier.fit_length != "crop" && s.classifier.fit_length != "pad_or_crop")
    r.fail("classifier.fit_length", "unknown value '" + s.classifier.fit_length + "'",
           "use \"exact\" (the default: the classifier reads the clip as generated), \"pad\", "
           "\"crop\" or \"pad_or_crop\"");

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
  if (fs::is_directory(model_dir, ec)) {
    validate_against_model(s, MusicgenConfig::from_file((model_dir / "config.json").string()));
    check_prompt_lengths(s, s.model);
  }
  return s;
}

}  // namespace mg::sweep::spec_detail
