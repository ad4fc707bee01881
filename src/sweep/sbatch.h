// The Slurm batch script of `mgsweep submit`: slurm/mgsweep.sbatch.in with its @PLACEHOLDERS@
// filled in from a job's [slurm] settings (or a cluster profile). No Slurm and no CLI here, so
// that the rendering can be tested on any machine (tests/sweep/sbatch_test.cpp).
//
// Template rules (slurm/README.md shows them in use):
//   - @NAME@ (capitals, digits, _) is a placeholder; any other @ is copied as is
//     (--signal=B:USR1@@SIGNAL_SECONDS@ works).
//   - A placeholder has zero, one or several values. A line whose placeholder has no value is
//     left out (no --gres line for CPU-only tasks, no --account when none is set); a line whose
//     placeholder has several values is repeated once per value (@EXTRA_SBATCH@). At most one
//     placeholder per line may have several values.
//   - An unknown placeholder is an error (a template from another version of mgsweep).
//
// Placeholders: JOB_NAME, NODES, NTASKS_PER_NODE, GPUS_PER_NODE, CPUS_PER_TASK, MEM, TIME,
// PARTITION, ACCOUNT, SIGNAL_SECONDS, OUTPUT, WORKDIR, EXTRA_SBATCH (values for #SBATCH
// lines, quoted for sbatch's parser where needed) and MGSWEEP, JOB_FILE, STORE (shell-quoted
// words for the script's body).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sweep/spec.h"

namespace mg::sweep {

// The template's file name, in the slurm/ folder of the source tree or the installation.
inline constexpr const char* kSbatchTemplateName = "mgsweep.sbatch.in";

// What the script needs besides the template. Paths must be absolute (the batch job may start
// in another directory and on another node).
struct SbatchRequest {
  std::string job_name;  // --job-name and the log's stem (empty: "mgsweep")
  std::string mgsweep;   // the mgsweep executable
  std::string job_file;  // JOB.toml
  std::string store;     // the store (.h5); the log goes next to it
  std::string workdir;   // --chdir: where relative paths inside the job file resolve
  SlurmSpec slurm;       // the job's [slurm] table or a cluster profile
  std::vector<std::string> extra_sbatch;  // `submit --sbatch-arg`, after slurm.extra_sbatch
  std::string origin;  // the file the [slurm] settings came from, named in errors
};

// The rendered script. Throws mg::InputError for bad settings (nodes < 1, gpus_per_node < 0,
// a value with a line break, a relative path, ...) and for a bad template (unknown placeholder).
std::string render_sbatch(const std::string& template_text, const SbatchRequest& request);

// The placeholder values render_sbatch() fills in (after validating the request).
std::map<std::string, std::vector<std::string>> sbatch_values(const SbatchRequest& request);

// Template substitution alone (the rules above). `origin` names the template in errors.
std::string fill_template(const std::string& template_text,
                          const std::map<std::string, std::vector<std::string>>& values,
                          const std::string& origin = "template");

// The log file of a request: <store dir>/<job name>-%j.log (%j: Slurm's job id).
std::string sbatch_log_path(const SbatchRequest& request);

// `s` as one bash word: as is when it holds only safe characters, else in single quotes.
std::string shell_quote(const std::string& s);
// `s` as one value on an #SBATCH line: as is when safe, else in double quotes with \, " and #
// escaped by a backslash (sbatch's own parser: an unescaped # starts a comment even in quotes).
std::string sbatch_quote(const std::string& s);

// Where `mgsweep submit` looks for the template, in order: $MGSWEEP_SLURM_DIR (when set and not
// empty), <exe dir>/../../slurm (the source tree, from build*/src/mgsweep),
// <exe dir>/../share/mgsweep/slurm (an installation).
std::vector<std::string> sbatch_template_dirs(const std::string& exe_path, const char* env_dir);
// The first <dir>/mgsweep.sbatch.in that exists; throws mg::InputError naming every place
// it looked otherwise.
std::string find_sbatch_template(const std::string& exe_path, const char* env_dir);

}  // namespace mg::sweep
