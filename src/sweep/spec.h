// The job spec of `mgsweep run JOB.toml`: a typed, validated description of one sweep.
//
// A job file is TOML. Reusable pieces (the paper's concepts, the prompt template, cluster
// profiles) live in configs/ and are pulled in with a top-level
//     include = ["../configs/prompt_template.toml", "../configs/paper_concepts.toml"]
// (paths relative to the including file; later includes override earlier ones, the including
// file overrides them all; tables merge key by key, arrays are replaced whole). Every error
// about the file names the file, the line and the key:
//     jobs/x.toml: line 12: interventions.layers[2]: layer 99 is past the model's 4 layers (...)
//
// Paths in the spec (model, store, classifier.path) are used as written: relative ones are
// relative to the directory mgsweep runs in (the repository root in the examples). include and
// labels are relative to the file that names them.
//
// The keys (defaults: the member initializers below; jobs/ and configs/ show them in use):
//   name, model, store, batch_size, checkpoint_seconds, stall_seconds, concepts = [names], labels,
//   num_labels [classifier]    kind = "demo" | "torchscript", path,
//                   fit_length = "exact" | "pad" | "crop" | "pad_or_crop"
//   [generation]    duration (s) | frames, top_k, temperature, guidance, seed, greedy, dtype,
//                   device, shared_noise
//   [prompts]       template, slot_order, per_concept, [prompts.vocab] SLOT = [values]
//   [concept.NAME]  slot, value, label, relevant, outside_vocab
//   [baseline]      enabled, means = "per_step" | "frame_avg", self_similarity
//   [lens]          enabled, layers = "all" | [k, ...]
//   [interventions] enabled, techniques, scale_factor, pairs, components, heads, layers,
//                   windows, both_halves
//   [extremes]      enabled, top_k
//   [slurm]         partition, nodes, gpus_per_node, cpus_per_task, mem, time, account,
//                   signal_seconds, extra_sbatch (read by `mgsweep submit`)
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "musicgen/config.h"
#include "musicgen/hook_site.h"

namespace mg::sweep {

struct ConceptSpec {
  std::string name;               // e.g. "guitar"
  std::string slot;               // the template slot it fixes, e.g. "INSTRUMENTS"
  std::string value;              // the text that fills the slot, e.g. "guitar"
  int64_t label = 0;              // class index whose odds the effect score uses
  std::vector<int64_t> relevant;  // class indices with relevance 1 for the NDCG
};

struct GenerationSpec {
  int64_t frames = 200;       // audio frames (50 per second for MusicGen)
  double duration = 4.0;      // seconds, as given (or frames / 50 when frames was given)
  bool from_duration = true;  // frames derived from duration (re-derived with the model's rate)
  bool greedy = false;
  int64_t top_k = 250;  // 0 = no top-k filter
  double temperature = 1.0;
  double guidance = 3.0;
  uint64_t seed = 0;
  // An intervened generation draws the same sampling noise as its baseline (common random
  // numbers: the effect is the intervention's, not the dice's). false: its own noise, keyed by
  // the item, as when the paper's code drew every batch from torch's global generator.
  bool shared_noise = true;
  std::string dtype = "float32";  // float32 | float16 | bfloat16
  std::string device = "auto";    // auto | cpu | cuda
};

struct ClassifierSpec {
  std::string kind;  // "demo" | "torchscript"
  std::string path;  // the TorchScript file (torchscript only)
  // What to do when the classifier's input length differs from the generated clip's:
  // "exact" refuses the job (the paper's code gave PaSST the clip as it was), "pad" allows
  // zero-padding shorter clips, "crop" cropping longer ones, "pad_or_crop" both.
  std::string fit_length = "exact";
};

struct BaselineStage {
  bool enabled = true;
  bool per_step_means = true;  // means per generation step (paper's code) vs frame-averaged
  bool self_similarity = true;
};

struct LensStage {
  bool enabled = false;
  bool all_layers = true;       // "all": filled with 1..L by validate_against_model
  std::vector<int64_t> layers;  // k values (1-based counts of layers kept)
};

struct InterventionStage {
  bool enabled = false;
  std::vector<std::string> techniques;  // replace | adjust | add | scale | zero
  double scale_factor = 0;              // for "scale"
  bool all_pairs = true;
  std::vector<std::pair<size_t, size_t>> pairs;  // (original a, desired b) concept indices
  std::vector<std::string> components;           // self_attn | cross_attn | mlp
  bool heads = false;      // every head of the (attention) components instead of the whole output
  bool all_layers = true;  // "all": filled with 0..L-1 by validate_against_model
  std::vector<int64_t> layers;          // layer indices i of layers.{i}.*, from 0
  std::vector<mg::StepWindow> windows;  // default: one window, the whole generation
  bool both_halves = false;             // also intervene on the unconditional CFG row
};

struct ExtremesStage {
  bool enabled = false;
  int64_t top_k = 5;
};

// A cluster profile (configs/cluster_*.toml), for `mgsweep submit`. Not part of results.
struct SlurmSpec {
  bool present = false;  // the job (or an include) has a [slurm] table
  std::string partition;
  int64_t nodes = 1;
  int64_t gpus_per_node = 1;  // one MPI task per GPU; 0 = CPU-only tasks
  int64_t cpus_per_task = 8;
  std::string mem;                        // e.g. "120G"; empty: the partition's default
  std::string time;                       // e.g. "1-00:00:00"
  std::string account;                    // empty: none
  int64_t signal_seconds = 300;           // --signal=B:USR1@N: checkpoint lead time before the kill
  std::vector<std::string> extra_sbatch;  // further "#SBATCH" lines, e.g. "--qos=long"
};

// Where a key came from, for errors raised after loading (validate_against_model).
struct SourceLoc {
  std::string file;
  int64_t line = 0;
};

struct JobSpec {
  std::string source;        // the job file (or the origin given to load_job_text)
  std::string name;          // default: the job file's stem
  std::string model;         // model folder (Hugging Face layout)
  std::string store;         // default: results/<name>.h5
  std::string labels_path;   // the label CSV that was found (empty: none), for the classifier
  int64_t num_labels = 527;  // classes of the classifier; labels must be below this

  ClassifierSpec classifier;
  GenerationSpec generation;

  std::string prompt_template;
  std::map<std::string, std::vector<std::string>> vocab;  // slot -> values
  std::vector<std::string> slot_order;  // nesting order of the prompt loops, outermost first

  std::vector<ConceptSpec> concepts;
  int64_t prompts_per_concept = 100;

  BaselineStage baseline;
  LensStage lens;
  InterventionStage interventions;
  ExtremesStage extremes;
  SlurmSpec slurm;

  int64_t batch_size = 16;
  double checkpoint_seconds = 300;
  // A worker that has not answered for this long is declared stalled: its batch goes to another
  // rank (coordinator.cpp). 0: derived from the measured batch times (see stall_bound()).
  double stall_seconds = 0;

  bool model_checked = false;  // validate_against_model ran
  int64_t model_layers = 0;    // ... and found these
  int64_t model_heads = 0;

  // Key path ("lens.layers[2]", "generation.frames") -> where it was written.
  std::map<std::string, SourceLoc> locations;

  // A canonical text of everything that changes a result (not name, store, batch size,
  // checkpoint interval, device, slurm), one "key = value" line each; stable across runs.
  std::string canonical() const;
  // 16 hex digits: FNV-1a 64 of canonical().
  std::string result_hash() const;
  // What differs in results between two specs, one "key: a -> b" entry each (empty: none).
  static std::vector<std::string> result_differences(const JobSpec& a, const JobSpec& b);
  // The full spec as TOML (resolved: concept tables, frames, layer lists), for the store;
  // load_job_text() of it gives a spec with the same canonical().
  std::string to_toml() const;

  size_t concept_index(const std::string& name) const;  // npos where unknown
};

// Loads and validates a job file. Where the model folder exists, also
// validate_against_model() with its config.json. Throws mg::InputError.
JobSpec load_job(const std::string& path);
// The same from text (e.g. the spec kept in a store). `origin` names it in errors; includes
// and labels are then relative to the current directory.
JobSpec load_job_text(const std::string& text, const std::string& origin);
// Fills "all" layers and checks layers, windows, duration and extremes against the model.
// Throws mg::InputError naming the job file, line and key.
void validate_against_model(JobSpec& spec, const mg::MusicgenConfig& config);

// The intervention targets' hook sites in plan order: layer-major, then component
// (self_attn, cross_attn, mlp as listed), then head. Needs the layers filled.
std::vector<mg::HookSite> intervention_sites(const JobSpec& spec);

// A cluster profile on its own: a TOML file with a [slurm] table (includes allowed).
SlurmSpec load_slurm_profile(const std::string& path);

}  // namespace mg::sweep
