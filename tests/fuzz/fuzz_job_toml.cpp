// libFuzzer target: a job file and the files it includes -> mg::sweep::load_job (the parser
// `mgsweep run/submit/status` runs first). The input is several files: the text up to the
// first line "#@file NAME" is jobs/main.toml, each such line starts jobs/NAME (NAME cut to
// [A-Za-z0-9_.-]), so that includes, include cycles and overrides between fuzzed files are
// reached. The files lie in a private folder's jobs/, beside links to the repository's
// configs/ and tests/ (for includes of ../configs/*.toml and labels). Run it from the
// repository's root (tools/fuzz.sh does): paths in a spec are relative to where mgsweep runs,
// so model = "tests/golden/tiny" is then a model folder whose config.json makes load_job
// check the job against a model too.
//
// Must hold: load_job either succeeds or throws mg::InputError with a one-line message; a
// loaded spec has a 16-hex-digit result hash, and its resolved TOML (to_toml, what a store
// keeps to refuse a resume with other results) loads again to the same canonical() (and
// the same hash); where the model was checked, its intervention sites can be listed.
//   seed corpus: jobs/, configs/, tests/sweep/data/ and tests/sweep_integration/job.toml,
//   includes bundled (see tools/fuzz.sh)

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_common.h"
#include "musicgen/errors.h"
#include "sweep/spec.h"

#ifndef MGSWEEP_SOURCE_DIR
#error "MGSWEEP_SOURCE_DIR: the repository (tests/fuzz/CMakeLists.txt defines it)"
#endif

namespace fs = std::filesystem;

namespace {

std::string g_dir;
bool g_verbose = false;  // MGSWEEP_FUZZ_VERBOSE=1: say what became of each input (seed checks)

std::string file_name(const std::string& s) {
  std::string out;
  for (char c : s)
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '-' || c == '.')
      out += c;
  if (out.empty() || out == "." || out == ".." || out.size() > 64) return "";
  return out;
}

// main.toml and the further files of the input, by name.
std::vector<std::pair<std::string, std::string>> split_files(const std::string& in) {
  std::vector<std::pair<std::string, std::string>> files{{"main.toml", ""}};
  const std::string mark = "#@file ";
  size_t pos = 0;
  while (pos <= in.size()) {
    size_t eol = in.find('\n', pos);
    if (eol == std::string::npos) eol = in.size();
    const std::string line = in.substr(pos, eol - pos);
    if (line.compare(0, mark.size(), mark) == 0) {
      const std::string name = file_name(line.substr(mark.size()));
      if (!name.empty() && files.size() < 8) {
        files.push_back({name, ""});
        pos = eol + 1;
        continue;
      }
    }
    files.back().second += line;
    if (eol < in.size()) files.back().second += '\n';
    pos = eol + 1;
  }
  return files;
}

bool is_hex16(const std::string& h) {
  if (h.size() != 16) return false;
  for (char c : h)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_dir = fuzz::private_dir("job");
  fs::create_directories(g_dir + "/jobs");
  fs::create_directory_symlink(fs::path(MGSWEEP_SOURCE_DIR) / "configs", g_dir + "/configs");
  fs::create_directory_symlink(fs::path(MGSWEEP_SOURCE_DIR) / "tests", g_dir + "/tests");
  g_verbose = std::getenv("MGSWEEP_FUZZ_VERBOSE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string jobs = g_dir + "/jobs/";
  std::error_code ec;
  fs::remove_all(jobs, ec);
  fs::create_directory(jobs);
  for (const auto& [name, text] : split_files(input)) {
    std::ofstream out(jobs + name, std::ios::binary | std::ios::trunc);
    out << text;
  }
  mg::sweep::JobSpec spec;
  try {
    spec = mg::sweep::load_job(jobs + "main.toml");
  } catch (const mg::InputError& e) {
    fuzz::check_error_line(e.what());
    if (g_verbose) std::fprintf(stderr, "refused: %s\n", e.what());
    return 0;
  }
  if (g_verbose)
    std::fprintf(stderr, "loaded: %s (%s)\n", spec.name.c_str(),
                 spec.model_checked ? "checked against the model" : "no model");
  const std::string canonical = spec.canonical();
  if (!is_hex16(spec.result_hash())) __builtin_trap();
  if (spec.model_checked) {
    volatile size_t sites = mg::sweep::intervention_sites(spec).size();
    (void)sites;
  }
  const std::string resolved = spec.to_toml();
  mg::sweep::JobSpec again;
  try {
    again = mg::sweep::load_job_text(resolved, "fuzz:to_toml");
  } catch (const mg::InputError& e) {
    std::fprintf(stderr, "to_toml of a valid job does not load: %s\n--- resolved:\n%s\n", e.what(),
                 resolved.c_str());
    __builtin_trap();
  }
  if (again.canonical() != canonical || again.result_hash() != spec.result_hash()) {
    std::fprintf(stderr, "to_toml changes the results:\n--- before:\n%s\n--- after:\n%s\n",
                 canonical.c_str(), again.canonical().c_str());
    __builtin_trap();
  }
  if (!mg::sweep::JobSpec::result_differences(spec, again).empty()) __builtin_trap();
  return 0;
}
