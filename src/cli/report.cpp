// mgsweep report STORE [STORE ...] --out DIR: the paper's figures with bootstrap CIs, CSV
// tables and DIR/index.html with the extreme cases and DecoderLens samples to listen to.
//
// Two steps: the audio is decoded here from the stored codes (sweep/audio_export.h, one folder
// DIR/audio/<store stem>/ per store with its manifest.json), then the process becomes
// `PYTHON -m mgsweep.report` (python/mgsweep/report), which reads the stores with the reader
// package and draws everything. PYTHON is $MGSWEEP_PYTHON, else the MGSWEEP_REPORT_PYTHON
// that CMake was configured with (default: the repository's .venv/bin/python, where
// tools/setup.sh installs the package); the repository's python/ is put first on PYTHONPATH,
// so the package this binary was built with is the one that runs.
#include <ATen/Parallel.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "musicgen/errors.h"
#include "sweep/audio_export.h"
#include "sweep/migrate.h"
#include "sweep/store.h"

#ifndef MGSWEEP_REPORT_PYTHON
#define MGSWEEP_REPORT_PYTHON "python3"
#endif
#ifndef MGSWEEP_PYTHON_DIR
#define MGSWEEP_PYTHON_DIR ""
#endif

namespace mgcli {
namespace fs = std::filesystem;

namespace {

struct ReportOptions {
  std::vector<std::string> stores;
  std::string out;
  bool no_audio = false;
  std::string model, device;
  int64_t per_pair = 1;
  std::vector<int64_t> lens_ks;
  int64_t lens_prompts = 1;
  int seed = 0;
  int bootstrap = 1000;
  int threads = 0;
};

std::string report_python() {
  const char* env = std::getenv("MGSWEEP_PYTHON");
  return env && *env ? env : MGSWEEP_REPORT_PYTHON;
}

// Decodes one store's audio into `dir`; a store whose audio cannot be made (no model at the
// job's path, say) still gets its figures: the page then says why there is no audio.
void export_store_audio(const ReportOptions& o, const std::string& store, const fs::path& dir) {
  mg::sweep::ExportAudioOptions e;
  e.store = store;
  e.out = dir.string();
  e.model = o.model;
  e.device = o.device;
  e.extremes = true;
  e.per_pair = o.per_pair;
  e.lens = mg::sweep::Store::open_read_only(store)->has_dataset("/lens/k");
  e.lens_ks = o.lens_ks;
  e.lens_prompts = o.lens_prompts;
  e.manifest = true;
  e.quiet = true;
  try {
    const auto r = mg::sweep::export_audio(e);
    std::fprintf(
        stderr,
        "report: %s: %lld extreme-case WAVs (with their baselines), %lld DecoderLens WAVs\n",
        store.c_str(), static_cast<long long>(r.extremes_files),
        static_cast<long long>(r.lens_files));
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "report: %s: no audio: %s\n", store.c_str(), ex.what());
    fs::create_directories(dir);
    std::ofstream(dir / "manifest.json") << nlohmann::json{{"error", ex.what()}}.dump() << "\n";
  }
}

int run_report(const ReportOptions& o) {
  if (o.threads > 0) at::set_num_threads(o.threads);
  // Refuse an old or unknown schema before spending time on audio (the reader would too).
  for (const auto& s : o.stores)
    mg::sweep::require_current_schema(*mg::sweep::Store::open_read_only(s), "report");
  const std::string python = report_python();
  if (python.find('/') != std::string::npos && ::access(python.c_str(), X_OK) != 0)
    throw mg::InputError(python, "", "the Python that `mgsweep report` runs does not exist",
                         "run tools/setup.sh (it makes .venv with the mgsweep package), or set "
                         "MGSWEEP_PYTHON to a Python that has it");
  std::vector<std::string> args = {python, "-m", "mgsweep.report"};
  args.insert(args.end(), o.stores.begin(), o.stores.end());
  args.insert(args.end(), {"--out", o.out, "--seed", std::to_string(o.seed), "--bootstrap",
                           std::to_string(o.bootstrap)});
  if (!o.no_audio) {
    std::set<std::string> used;
    for (const auto& s : o.stores) {
      std::string name = mg::sweep::file_safe(fs::path(s).stem().string());
      for (int i = 2; !used.insert(name).second; ++i)
        name = mg::sweep::file_safe(fs::path(s).stem().string()) + "_" + std::to_string(i);
      const fs::path dir = fs::path(o.out) / "audio" / name;
      export_store_audio(o, s, dir);
      args.insert(args.end(), {"--audio", dir.string()});
    }
  }
  const std::string pkg = MGSWEEP_PYTHON_DIR;
  if (!pkg.empty()) {
    const char* old = std::getenv("PYTHONPATH");
    const std::string v = old && *old ? pkg + ":" + old : pkg;
    ::setenv("PYTHONPATH", v.c_str(), 1);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  ::execvp(argv[0], argv.data());  // returns only on failure
  throw mg::InputError(python, "", std::string("cannot run it: ") + std::strerror(errno),
                       "set MGSWEEP_PYTHON to a Python with the mgsweep package (tools/setup.sh)");
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* sub = app.add_subcommand(
      "report",
      "Figures of the paper with 95% bootstrap CIs (PNG, SVG), CSV tables and OUT/index.html "
      "with the extreme cases and DecoderLens samples to listen to, from complete or partial "
      "stores");
  sub->add_option("stores", o->stores, "Stores (.h5); several model sizes share Figs. 5, 6, 9")
      ->required();
  sub->add_option("--out", o->out, "Report folder (made if missing)")->required();
  sub->add_flag("--no-audio", o->no_audio, "Skip decoding audio (the page then has no players)");
  sub->add_option("--model", o->model, "Model folder for the audio (default: each job's model)");
  sub->add_option("--device", o->device, "Device for the audio (default: the job's device)");
  sub->add_option("--per-pair", o->per_pair,
                  "Extreme cases per technique and pair: the N largest and N smallest effects "
                  "(default 1)");
  sub->add_option("--lens-k", o->lens_ks, "DecoderLens cuts to play (default: up to four)")
      ->delimiter(',');
  sub->add_option("--lens-prompts", o->lens_prompts,
                  "DecoderLens samples of the first N prompts per concept (default 1)");
  sub->add_option("--seed", o->seed, "Bootstrap seed (default 0)");
  sub->add_option("--bootstrap", o->bootstrap, "Bootstrap resamples (default 1000)");
  sub->add_option("--threads", o->threads, "Intra-op threads for decoding (default: LibTorch's)");
  set_runner(sub, [o] { return run_report(*o); });
}

}  // namespace mgcli
