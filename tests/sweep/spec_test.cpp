// The job spec: every shipped job and config loads; the paper's concepts are Table 1's;
// canonical text and hash; round trip through to_toml; errors name file, line and key.
#include "sweep/spec.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "classify/labels.h"
#include "expect_error.h"
#include "musicgen/errors.h"
#include "musicgen/random_model.h"

namespace mg::sweep {
namespace {

namespace fs = std::filesystem;

const std::string kRoot = std::string(MGSWEEP_TEST_DATA) + "/..";
const std::string kData = std::string(MGSWEEP_TEST_DATA) + "/sweep/data";

std::string scratch_dir() {
  const std::string d = std::string(MGSWEEP_TEST_SCRATCH) + "/spec_test";
  fs::create_directories(d);
  return d;
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string p = scratch_dir() + "/" + name;
  std::ofstream(p) << text;
  return p;
}

std::string abs(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

// A job that includes jobs/demo.toml and overrides some keys.
JobSpec demo_with(const std::string& name, const std::string& overrides) {
  return load_job(write_file(
      name + ".toml", "include = [\"" + abs(kRoot + "/jobs/demo.toml") + "\"]\n" + overrides));
}

using mgtest::error_of;

std::vector<std::string> toml_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".toml") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Spec, EveryJobLoads) {
  const auto jobs = toml_files(kRoot + "/jobs");
  ASSERT_GE(jobs.size(), 5u);
  for (const auto& j : jobs) {
    SCOPED_TRACE(j);
    JobSpec s;
    ASSERT_NO_THROW(s = load_job(j));
    EXPECT_EQ(s.name, fs::path(j).stem().string());
    EXPECT_FALSE(s.concepts.empty());
    EXPECT_FALSE(s.result_hash().empty());
  }
}

TEST(Spec, EveryConfigLoadsInAJob) {
  for (const auto& c : toml_files(kRoot + "/configs")) {
    SCOPED_TRACE(c);
    const std::string text = "include = [\"" + abs(kRoot + "/configs/prompt_template.toml") +
                             "\", \"" + abs(kRoot + "/configs/paper_concepts.toml") + "\", \"" +
                             abs(c) + "\"]\nmodel = \"m\"\n[classifier]\nkind = \"demo\"\n";
    JobSpec s;
    ASSERT_NO_THROW(s = load_job(write_file("with_config.toml", text)));
    EXPECT_EQ(s.concepts.size(), 10u);
    if (fs::path(c).filename().string().rfind("cluster_", 0) == 0) {
      EXPECT_TRUE(s.slurm.present);
      SlurmSpec sl;
      ASSERT_NO_THROW(sl = load_slurm_profile(c));
      EXPECT_TRUE(sl.present);
      EXPECT_FALSE(sl.partition.empty());
      EXPECT_GE(sl.gpus_per_node, 1);
      EXPECT_GT(sl.signal_seconds, 0);
      EXPECT_FALSE(sl.time.empty());
    }
  }
}

TEST(Spec, DemoJob) {
  const JobSpec s = load_job(kRoot + "/jobs/demo.toml");
  EXPECT_EQ(s.model, "results/demo/model");
  EXPECT_EQ(s.store, "results/demo.h5");
  EXPECT_EQ(s.classifier.kind, "demo");
  EXPECT_EQ(s.generation.frames, 50);
  EXPECT_EQ(s.generation.top_k, 250);
  EXPECT_EQ(s.generation.guidance, 3.0);
  EXPECT_EQ(s.prompts_per_concept, 4);
  ASSERT_EQ(s.concepts.size(), 3u);
  EXPECT_EQ(s.concepts[2].name, "rock");
  EXPECT_EQ(s.concepts[2].slot, "GENRE");
  EXPECT_TRUE(s.baseline.enabled && s.baseline.per_step_means && s.baseline.self_similarity);
  EXPECT_TRUE(s.lens.enabled);
  EXPECT_TRUE(s.interventions.enabled);
  EXPECT_EQ(s.interventions.pairs.size(), 6u);
  EXPECT_EQ(s.interventions.pairs[0], std::make_pair(size_t{0}, size_t{1}));
  EXPECT_EQ(s.interventions.techniques, (std::vector<std::string>{"replace", "adjust"}));
  ASSERT_EQ(s.interventions.windows.size(), 1u);
  EXPECT_TRUE(s.interventions.windows[0].is_all());
  EXPECT_TRUE(s.extremes.enabled);
  EXPECT_EQ(s.extremes.top_k, 2);
  EXPECT_EQ(s.num_labels, 527);
  EXPECT_FALSE(s.labels_path.empty());
  // Checked at load only where results/demo/model exists relative to the working directory.
  EXPECT_EQ(s.model_checked, fs::is_directory("results/demo/model"));

  // Against the tiny model (4 layers, 4 heads): "all" layers filled.
  JobSpec v = s;
  validate_against_model(v, named_shape("tiny"));
  EXPECT_TRUE(v.model_checked);
  EXPECT_EQ(v.lens.layers, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(v.interventions.layers, (std::vector<int64_t>{0, 1, 2, 3}));
  const auto sites = intervention_sites(v);
  ASSERT_EQ(sites.size(), 12u);
  EXPECT_EQ(sites[0].name(), "layers.0.self_attn");
  EXPECT_EQ(sites[1].name(), "layers.0.cross_attn");
  EXPECT_EQ(sites[2].name(), "layers.0.mlp");
  EXPECT_EQ(sites[11].name(), "layers.3.mlp");
}

TEST(Spec, DemoJobReadsTheModelFolderWhenItExists) {
  const std::string dir = scratch_dir() + "/tiny_model";
  fs::create_directories(dir);
  std::ofstream(dir + "/config.json") << named_shape("tiny").to_json_text();
  const JobSpec s = demo_with("demo_model", "model = \"" + dir + "\"\n");
  EXPECT_TRUE(s.model_checked);
  EXPECT_EQ(s.model_layers, 4);
  EXPECT_EQ(s.lens.layers.size(), 4u);
  const std::string err = error_of([&] {
    demo_with("demo_model_99", "model = \"" + dir + "\"\n[interventions]\nlayers = [1, 99]\n");
  });
  EXPECT_CONTAINS(err, "demo_model_99.toml: line 4: interventions.layers[1]");
  EXPECT_CONTAINS(err, "layer 99");
}

TEST(Spec, PaperJobs) {
  const JobSpec s = load_job(kRoot + "/jobs/paper_small.toml");
  EXPECT_EQ(s.generation.frames, 200);  // 4 s at 50 Hz
  EXPECT_EQ(s.generation.duration, 4.0);
  EXPECT_EQ(s.classifier.kind, "torchscript");
  EXPECT_EQ(s.prompts_per_concept, 100);
  ASSERT_EQ(s.concepts.size(), 10u);
  EXPECT_EQ(s.interventions.pairs.size(), 90u);
  EXPECT_TRUE(s.slurm.present);
  JobSpec v = s;
  validate_against_model(v, named_shape("small"));
  EXPECT_EQ(v.lens.layers.size(), 24u);
  EXPECT_EQ(intervention_sites(v).size(), 72u);  // the paper's 24 layers x 3 components

  for (const char* size : {"medium", "large"}) {
    JobSpec m = load_job(kRoot + "/jobs/paper_" + size + ".toml");
    validate_against_model(m, named_shape(size));
    EXPECT_EQ(intervention_sites(m).size(), 144u) << size;  // 48 x 3
    EXPECT_EQ(m.canonical().find("generation.frames = 200\n") != std::string::npos, true);
  }

  JobSpec h = load_job(kRoot + "/jobs/heads_small.toml");
  EXPECT_TRUE(h.interventions.heads);
  validate_against_model(h, named_shape("small"));
  const auto sites = intervention_sites(h);
  ASSERT_EQ(sites.size(), 24u * 2 * 16);
  EXPECT_EQ(sites[0].name(), "layers.0.self_attn.head.0");
  EXPECT_EQ(sites[16].name(), "layers.0.cross_attn.head.0");
}

// Table 1 of the paper, by display name in configs/audioset_labels.csv.
TEST(Spec, PaperConceptsAreTable1) {
  const JobSpec s = load_job(kRoot + "/jobs/paper_small.toml");
  const Labels labels = Labels::load_csv(kRoot + "/configs/audioset_labels.csv");
  const std::vector<std::tuple<std::string, std::string, std::string, std::vector<std::string>>>
      table1 = {
          {"guitar",
           "INSTRUMENTS",
           "guitar",
           {"Guitar", "Acoustic guitar", "Electric guitar", "Bass guitar",
            "Plucked string instrument"}},
          {"piano", "INSTRUMENTS", "piano", {"Piano", "Electric piano", "Keyboard (musical)"}},
          {"trumpet", "INSTRUMENTS", "trumpet", {"Trumpet", "Brass instrument"}},
          {"violin",
           "INSTRUMENTS",
           "violin",
           {"Violin, fiddle", "String section", "Bowed string instrument"}},
          {"classical", "GENRE", "classical", {"Classical music"}},
          {"pop", "GENRE", "pop", {"Pop music"}},
          {"jazz", "GENRE", "jazz", {"Jazz", "Rhythm and blues"}},
          {"rock",
           "GENRE",
           "rock",
           {"Rock music", "Rock and roll", "Progressive rock", "Punk rock"}},
          {"electronic",
           "GENRE",
           "electronic",
           {"Electronic dance music", "Electronic music", "Techno", "Drum and bass", "Dubstep",
            "House music"}},
          {"hiphop", "GENRE", "hiphop", {"Hip hop music"}},
      };
  ASSERT_EQ(s.concepts.size(), table1.size());
  for (size_t i = 0; i < table1.size(); ++i) {
    const auto& [name, slot, value, relevant] = table1[i];
    const ConceptSpec& c = s.concepts[i];
    SCOPED_TRACE(name);
    EXPECT_EQ(c.name, name);
    EXPECT_EQ(c.slot, slot);
    EXPECT_EQ(c.value, value);
    ASSERT_EQ(c.relevant.size(), relevant.size());
    for (size_t j = 0; j < relevant.size(); ++j)
      EXPECT_EQ(labels.name(static_cast<size_t>(c.relevant[j])), relevant[j]);
    EXPECT_EQ(c.label, c.relevant[0]);  // the first label of Table 1 gives the odds
  }
  // The ids of the paper's code (intervention_main.py).
  const std::vector<int64_t> code_ids = {140, 153, 187, 191, 237, 216, 235, 219, 245, 217};
  for (size_t i = 0; i < code_ids.size(); ++i) EXPECT_EQ(s.concepts[i].label, code_ids[i]);
}

TEST(Spec, CanonicalAndHash) {
  const JobSpec a = load_job(kRoot + "/jobs/demo.toml");
  const JobSpec b = load_job(kRoot + "/jobs/demo.toml");
  EXPECT_EQ(a.canonical(), b.canonical());
  EXPECT_EQ(a.result_hash(), b.result_hash());
  EXPECT_EQ(a.result_hash().size(), 16u);
  // Pinned: the hash of the demo job (checked against the tiny model, as the runner does)
  // must not change between runs, builds or machines. A deliberate change of canonical()
  // changes it; update it here and say so.
  JobSpec checked = a;
  validate_against_model(checked, named_shape("tiny"));
  // Changed with store schema 2 (compat_* removed; classifier.fit_length and
  // generation.shared_noise added).
  EXPECT_EQ(checked.result_hash(), "0a7d523c1ee9b7ae");
  EXPECT_CONTAINS(checked.canonical(), "\nlens.layers = [1, 2, 3, 4]\n");
  EXPECT_CONTAINS(a.canonical(), "generation.seed = 1\n");
  EXPECT_EQ(a.canonical().find("batch_size"), std::string::npos);
  EXPECT_EQ(a.canonical().find("results/demo.h5"), std::string::npos);

  // Not results: batch size, store, device, checkpoint interval, stall bound, name, cluster.
  const JobSpec same =
      demo_with("same",
                "name = \"other\"\nstore = \"x.h5\"\nbatch_size = 3\ncheckpoint_seconds = 5\n"
                "stall_seconds = 7\n"
                "[generation]\ndevice = \"cuda\"\n[slurm]\npartition = \"p\"\n");
  EXPECT_EQ(same.result_hash(), a.result_hash());
  EXPECT_TRUE(JobSpec::result_differences(a, same).empty());
  EXPECT_EQ(same.stall_seconds, 7);
  EXPECT_EQ(a.stall_seconds, 0);  // derived from the measured batch times
  // frames = 50 (overriding the included duration) is duration = 1.0.
  const JobSpec frames = demo_with("frames", "[generation]\nframes = 50\n");
  EXPECT_FALSE(frames.generation.from_duration);
  EXPECT_EQ(frames.result_hash(), a.result_hash());
}

TEST(Spec, HashFollowsResults) {
  const JobSpec a = load_job(kRoot + "/jobs/demo.toml");
  const std::vector<std::pair<std::string, std::string>> changes = {
      {"seed", "[generation]\nseed = 2\n"},
      {"duration", "[generation]\nduration = 2.0\n"},
      {"concepts", "concepts = [\"guitar\", \"piano\", \"jazz\"]\n"},
      {"concept_order", "concepts = [\"piano\", \"guitar\", \"rock\"]\n"},
      {"per_concept", "[prompts]\nper_concept = 5\n"},
      {"label", "[concept.rock]\nlabel = 220\n"},
      {"relevant", "[concept.rock]\nrelevant = [219]\n"},
      {"dtype", "[generation]\ndtype = \"bfloat16\"\n"},
      {"technique", "[interventions]\ntechniques = [\"replace\"]\n"},
      {"window", "[interventions]\nwindows = [[0, 10]]\n"},
      {"means", "[baseline]\nmeans = \"frame_avg\"\n"},
      {"lens", "[lens]\nenabled = false\n"},
      {"model", "model = \"results/other\"\n"},
  };
  std::set<std::string> hashes = {a.result_hash()};
  for (const auto& [name, text] : changes) {
    SCOPED_TRACE(name);
    const JobSpec b = demo_with("change_" + name, text);
    EXPECT_NE(b.result_hash(), a.result_hash());
    EXPECT_FALSE(JobSpec::result_differences(a, b).empty());
    hashes.insert(b.result_hash());
  }
  EXPECT_EQ(hashes.size(), changes.size() + 1);
}

TEST(Spec, ResultDifferencesNameTheKey) {
  const JobSpec a = load_job(kRoot + "/jobs/demo.toml");
  const JobSpec b = demo_with("seed2", "[generation]\nseed = 2\n");
  EXPECT_EQ(JobSpec::result_differences(a, b),
            (std::vector<std::string>{"generation.seed: 1 -> 2"}));
  const JobSpec c =
      demo_with("dur2", "[generation]\nduration = 2.0\n[concept.rock]\nlabel = 220\n");
  const auto d = JobSpec::result_differences(a, c);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0], "generation.frames: 50 -> 100");
  EXPECT_EQ(d[1], "concept.rock.label: 219 -> 220");
}

TEST(Spec, ToTomlRoundTrips) {
  for (const char* job : {"demo", "paper_small", "heads_small"}) {
    SCOPED_TRACE(job);
    const JobSpec s = load_job(kRoot + "/jobs/" + job + ".toml");
    const JobSpec r = load_job_text(s.to_toml(), std::string("store:/") + job);
    EXPECT_EQ(r.canonical(), s.canonical());
    EXPECT_TRUE(JobSpec::result_differences(s, r).empty());
    EXPECT_EQ(r.name, s.name);
    EXPECT_EQ(r.store, s.store);
    EXPECT_EQ(r.batch_size, s.batch_size);
    EXPECT_EQ(r.slurm.present, s.slurm.present);
    EXPECT_EQ(r.generation.device, s.generation.device);
    // ... and after the model check (layers written out).
    JobSpec v = s;
    validate_against_model(v, named_shape(std::string(job) == "demo" ? "tiny" : "small"));
    JobSpec rv = load_job_text(v.to_toml(), "store");
    EXPECT_EQ(rv.canonical(), v.canonical());
    EXPECT_EQ(rv.interventions.layers, v.interventions.layers);
  }
  // hiphop keeps its out-of-vocabulary value.
  const JobSpec p = load_job(kRoot + "/jobs/paper_small.toml");
  EXPECT_CONTAINS(p.to_toml(), "[concept.hiphop]\nslot = \"GENRE\"\nvalue = \"hiphop\"");
  EXPECT_CONTAINS(p.to_toml(), "outside_vocab = true");
}

// ---- Bad input: each names the file, the line and the key. -------------------------------

TEST(SpecErrors, UnknownKey) {
  const std::string e = error_of([] { load_job(kData + "/unknown_key.toml"); });
  EXPECT_CONTAINS(e, "unknown_key.toml: line 6: generation.topk: unknown key");
  EXPECT_CONTAINS(e, "did you mean 'top_k'?");
  const std::string top = error_of([] { demo_with("unknown_top", "modle = \"x\"\n"); });
  EXPECT_CONTAINS(top, "unknown_top.toml: line 2: modle: unknown key");
  EXPECT_CONTAINS(top, "did you mean 'model'?");
  const std::string stage = error_of([] { demo_with("unknown_stage", "[lense]\nlayers = [1]\n"); });
  EXPECT_CONTAINS(stage, "unknown_stage.toml: line 2: lense: unknown key");
}

TEST(SpecErrors, WrongType) {
  const std::string e = error_of([] { load_job(kData + "/wrong_type.toml"); });
  EXPECT_CONTAINS(e, "wrong_type.toml: line 4: generation.seed: expected an integer, got a string");
  const std::string t = error_of([] { demo_with("wrong_table", "generation = 3\n"); });
  EXPECT_CONTAINS(t, "wrong_table.toml: line 2: generation: expected a table");
  const std::string l = error_of([] { demo_with("wrong_bool", "[lens]\nenabled = 1\n"); });
  EXPECT_CONTAINS(l, "line 3: lens.enabled: expected true or false, got an integer");
}

TEST(SpecErrors, LabelOutOfRange) {
  const std::string e = error_of([] { load_job(kData + "/label_600.toml"); });
  EXPECT_CONTAINS(
      e, "label_600.toml: line 6: concept.guitar.relevant[1]: label 600 is outside 0..526");
  // Without a label CSV the range is AudioSet's.
  const std::string t = error_of([] {
    load_job_text(
        "model = \"m\"\nconcepts = [\"a\", \"b\"]\n[classifier]\nkind = \"demo\"\n"
        "[prompts]\ntemplate = \"[X] [Y]\"\nslot_order = [\"X\", \"Y\"]\nper_concept = 1\n"
        "[prompts.vocab]\nX = [\"a\", \"b\"]\nY = [\"c\"]\n"
        "[concept.a]\nslot = \"X\"\nlabel = 0\n[concept.b]\nslot = \"X\"\nlabel = 527\n",
        "inline");
  });
  EXPECT_CONTAINS(t, "inline: line 17: concept.b.label: label 527 is outside 0..526");
}

TEST(SpecErrors, UnknownSlot) {
  const std::string e = error_of([] { load_job(kData + "/unknown_slot.toml"); });
  EXPECT_CONTAINS(
      e, "unknown_slot.toml: line 5: concept.blue.slot: slot 'COLOR' is not in the template");
  const std::string v = error_of([] { load_job(kData + "/value_not_in_vocab.toml"); });
  EXPECT_CONTAINS(v,
                  "value_not_in_vocab.toml: line 6: concept.banjo.value: value 'banjo' is not in "
                  "the INSTRUMENTS vocabulary");
  EXPECT_CONTAINS(v, "outside_vocab = true");
}

TEST(SpecErrors, IncludeCycle) {
  const std::string e = error_of([] { load_job(kData + "/cycle_a.toml"); });
  EXPECT_CONTAINS(e, "cycle_b.toml: line 2: include[0]: include cycle: ");
  EXPECT_CONTAINS(e, "cycle_a.toml -> ");
}

TEST(SpecErrors, MissingInclude) {
  const std::string e = error_of([] { load_job(kData + "/missing_include.toml"); });
  EXPECT_CONTAINS(e, "missing_include.toml: line 2: include[1]: included file");
  EXPECT_CONTAINS(e, "no_such_file.toml' does not exist");
  const std::string j = error_of([] { load_job(kData + "/no_such_job.toml"); });
  EXPECT_CONTAINS(j, "no_such_job.toml: cannot open the job file");
}

TEST(SpecErrors, LayerPastTheModel) {
  JobSpec s;
  ASSERT_NO_THROW(s = load_job(kData + "/layer_99.toml"));  // no model folder: deferred
  const std::string e = error_of([&] { validate_against_model(s, named_shape("tiny")); });
  EXPECT_CONTAINS(e, "layer_99.toml: line 6: interventions.layers[1]: layer 99 is past");
  EXPECT_CONTAINS(e, "4 layers");
  const std::string k = error_of([] {
    JobSpec d = demo_with("lens_9", "[lens]\nlayers = [1, 9]\n");
    validate_against_model(d, named_shape("tiny"));
  });
  EXPECT_CONTAINS(k, "lens_9.toml: line 3: lens.layers[1]: k = 9 is past");
  const std::string w = error_of([] {
    JobSpec d = demo_with("window_late", "[interventions]\nwindows = [[0, 10], [60, \"end\"]]\n");
    validate_against_model(d, named_shape("tiny"));  // 50 frames + 3 delay = 53 steps
  });
  EXPECT_CONTAINS(
      w, "window_late.toml: line 3: interventions.windows[1]: the window starts at step 60");
}

TEST(SpecErrors, Misc) {
  auto err = [](const std::string& name, const std::string& text) {
    return error_of([&] { demo_with(name, text); });
  };
  EXPECT_CONTAINS(err("stall", "stall_seconds = -1\n"),
                  "line 2: stall_seconds: must be 0 (derived from the measured batch times) or "
                  "positive");
  EXPECT_CONTAINS(err("both", "[generation]\nframes = 50\nduration = 2.0\n"),
                  "line 3: generation.frames: both duration and frames are given");
  EXPECT_CONTAINS(err("extremes_alone", "[interventions]\nenabled = false\n"),
                  "extremes.enabled: extremes rank intervention effects");
  EXPECT_CONTAINS(err("bad_pair", "[interventions]\npairs = [[\"guitar\", \"violin\"]]\n"),
                  "line 3: interventions.pairs[0]: 'violin' is not one of the job's concepts");
  EXPECT_CONTAINS(err("self_pair", "[interventions]\npairs = [[\"rock\", \"rock\"]]\n"),
                  "two different concepts");
  EXPECT_CONTAINS(err("bad_tech", "[interventions]\ntechniques = [\"replace\", \"swap\"]\n"),
                  "line 3: interventions.techniques[1]: unknown technique 'swap'");
  EXPECT_CONTAINS(err("scale", "[interventions]\ntechniques = [\"scale\"]\n"),
                  "interventions.scale_factor: missing");
  EXPECT_CONTAINS(err("mlp_heads", "[interventions]\nheads = true\n"),
                  "line 3: interventions.heads: the mlp component has no heads");
  EXPECT_CONTAINS(err("unknown_concept", "concepts = [\"guitar\", \"ukulele\"]\n"),
                  "line 2: concepts[1]: unknown concept 'ukulele'");
  EXPECT_CONTAINS(err("too_many", "[prompts]\nper_concept = 126\n"),
                  "line 3: prompts.per_concept: 126 prompts per concept, but concept 'guitar' "
                  "has only 125");
  EXPECT_CONTAINS(err("dup_layer", "[lens]\nlayers = [1, 2, 1]\n"),
                  "line 3: lens.layers[2]: 1 is listed twice");
  EXPECT_CONTAINS(err("empty_window", "[interventions]\nwindows = [[5, 5]]\n"),
                  "line 3: interventions.windows[0]: window [5, 5) is empty");
  EXPECT_CONTAINS(err("demo_path", "[classifier]\npath = \"x.pt\"\n"),
                  "line 3: classifier.path: the demo classifier is built in");
  EXPECT_CONTAINS(err("syntax", "[generation\nseed = 1\n"),
                  "syntax.toml: line 2: TOML syntax error");
  EXPECT_CONTAINS(err("slot_vocab", "[prompts.vocab]\nCOLOR = [\"red\"]\n"),
                  "line 3: prompts.vocab.COLOR: slot 'COLOR' is not in the template");
  // labels = a CSV beside the file that names it: its rows bound the indices.
  write_file("three.csv", "index,mid,display_name\n0,/m/a,A\n1,/m/b,B\n2,/m/c,C\n");
  EXPECT_CONTAINS(
      err("labels_key", "labels = \"three.csv\"\n"),
      "paper_concepts.toml: line 55: concept.classical.label: label 237 is outside 0..2");
  EXPECT_CONTAINS(err("labels_missing", "labels = \"nope.csv\"\n"),
                  "line 2: labels: the label file");
  EXPECT_CONTAINS(err("num_labels", "num_labels = 100\n"),
                  "line 2: num_labels: 100 disagrees with the 527 rows");
  // A label by name resolves against the CSV.
  const JobSpec byname = demo_with("by_name",
                                   "[concept.rock]\nlabel = \"Rock music\"\n"
                                   "relevant = [\"Rock music\", \"Punk rock\"]\n");
  EXPECT_EQ(byname.concepts[2].label, 219);
  EXPECT_EQ(byname.concepts[2].relevant, (std::vector<int64_t>{219, 221}));
  EXPECT_CONTAINS(err("bad_name", "[concept.rock]\nlabel = \"Rock musik\"\n"),
                  "unknown class label `Rock musik`");
  EXPECT_CONTAINS(err("bad_fit", "[classifier]\nfit_length = \"stretch\"\n"),
                  "line 3: classifier.fit_length: unknown value 'stretch'");
  // The removed compatibility switches: true is refused, false (as old stores' specs hold
  // them) is read and ignored.
  EXPECT_CONTAINS(err("compat", "[interventions]\ncompat_row0_history = true\n"),
                  "line 3: interventions.compat_row0_history: was removed");
  EXPECT_CONTAINS(err("compat2", "[interventions]\ncompat_last_layer_only = true\n"),
                  "interventions.compat_last_layer_only: was removed");
  EXPECT_EQ(demo_with("compat_off", "[interventions]\ncompat_row0_history = false\n").result_hash(),
            load_job(kRoot + "/jobs/demo.toml").result_hash());
}

TEST(Spec, FitLengthIsAResultAndRoundTrips) {
  const JobSpec a = load_job(kRoot + "/jobs/demo.toml");
  EXPECT_EQ(a.classifier.fit_length, "exact");
  const JobSpec b = demo_with("fit_pad", "[classifier]\nfit_length = \"pad\"\n");
  EXPECT_EQ(b.classifier.fit_length, "pad");
  EXPECT_NE(a.result_hash(), b.result_hash());
  EXPECT_EQ(load_job_text(b.to_toml(), "store").classifier.fit_length, "pad");
}

}  // namespace
}  // namespace mg::sweep
