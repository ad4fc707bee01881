// mgsweep submit JOB.toml: renders slurm/mgsweep.sbatch.in for the job (src/sweep/sbatch.h)
// and submits it with sbatch, or prints it (--dry-run). The batch job runs `mgsweep run` under
// srun, checkpoints on Slurm's early-warning signal and requeues itself; a requeued (or
// resubmitted) job resumes from the store.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "musicgen/errors.h"
#include "sweep/sbatch.h"
#include "sweep/spec.h"

extern char** environ;

namespace mgcli {

extern char*** g_argv;

namespace {

namespace fs = std::filesystem;

struct SubmitArgs {
  std::string job;
  bool dry_run = false;
  std::string profile;
  std::string store;
  std::vector<std::string> sbatch_args;
};

// The absolute path of this executable, for the script to run (the batch job needs no PATH).
std::string self_executable() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && !p.empty()) return p.string();
  const std::string argv0 = (g_argv && *g_argv && (*g_argv)[0]) ? (*g_argv)[0] : "";
  if (argv0.find('/') != std::string::npos) return fs::absolute(argv0).lexically_normal().string();
  throw std::runtime_error("cannot tell where the mgsweep executable is (run it by its path)");
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw mg::InputError(path, "", "cannot be read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `sbatch --parsable SCRIPT`; returns the job id it prints. sbatch's stderr goes to ours.
std::string run_sbatch(const std::string& script) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  std::vector<std::string> args = {"sbatch", "--parsable", script};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = posix_spawnp(&pid, "sbatch", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (err != 0) {
    close(fds[0]);
    throw std::runtime_error(std::string("cannot run sbatch: ") + std::strerror(err) +
                             " (is Slurm installed here? `mgsweep submit --dry-run` prints the "
                             "script; it was written to " +
                             script + ")");
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error("sbatch " + script + " failed (exit status " +
                             std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                             "; its message is above)");
  // --parsable prints "JOBID" or "JOBID;CLUSTER".
  const size_t end = out.find_first_of(";\r\n");
  const std::string id = out.substr(0, end);
  if (id.empty()) throw std::runtime_error("sbatch printed no job id");
  return id;
}

int submit(const SubmitArgs& a) {
  const mg::sweep::JobSpec spec = mg::sweep::load_job(a.job);
  mg::sweep::SbatchRequest req;
  if (!a.profile.empty()) {
    std::error_code ec;
    if (!fs::is_regular_file(a.profile, ec))
      throw mg::InputError(a.profile, "--profile", "no such file",
                           "give a cluster profile such as configs/cluster_generic.toml");
    req.slurm = mg::sweep::load_slurm_profile(a.profile);
    req.origin = a.profile;
  } else if (spec.slurm.present) {
    req.slurm = spec.slurm;
    req.origin = a.job;
  } else {
    throw mg::InputError(
        a.job, "slurm", "no [slurm] table and no --profile",
        "include a cluster profile (include = [\"../configs/cluster_generic.toml\"])"
        " or pass --profile configs/cluster_<site>.toml");
  }
  req.job_name = spec.name;
  req.mgsweep = self_executable();
  req.job_file = fs::absolute(a.job).lexically_normal().string();
  req.store = fs::absolute(a.store.empty() ? spec.store : a.store).lexically_normal().string();
  req.workdir = fs::current_path().string();
  req.extra_sbatch = a.sbatch_args;

  const std::string tmpl =
      mg::sweep::find_sbatch_template(req.mgsweep, std::getenv("MGSWEEP_SLURM_DIR"));
  const std::string script =
      mg::sweep::fill_template(read_text(tmpl), mg::sweep::sbatch_values(req), tmpl);
  if (a.dry_run) {
    std::fputs(script.c_str(), stdout);
    return 0;
  }

  // The log (--output) goes next to the store: Slurm does not create its directory.
  const fs::path store_dir = fs::path(req.store).parent_path();
  std::error_code ec;
  fs::create_directories(store_dir, ec);
  if (ec) throw mg::InputError(req.store, "store", "cannot create its directory: " + ec.message());
  const std::string path = req.store + ".sbatch";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << script;
    if (!out.flush())
      throw mg::InputError(path, "", "cannot be written", "check the store's directory");
  }
  fs::permissions(path, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add, ec);
  const std::string id = run_sbatch(path);
  std::printf("Submitted batch job %s\n", id.c_str());
  std::string log = mg::sweep::sbatch_log_path(req);
  log.replace(log.rfind("%j"), 2, id);
  std::printf("script: %s\nlog:    %s\nstore:  %s\n", path.c_str(), log.c_str(), req.store.c_str());
  std::printf("progress: mgsweep status %s\n", req.store.c_str());
  return 0;
}

}  // namespace

void add_submit_command(CLI::App& app) {
  auto a = std::make_shared<SubmitArgs>();
  CLI::App* sub = app.add_subcommand(
      "submit",
      "Submit a job to Slurm (sbatch script from slurm/mgsweep.sbatch.in): one MPI task per "
      "GPU; checkpoints on --signal=B:USR1 and requeues itself, resuming from the store");
  sub->add_option("job", a->job, "Job file (TOML) with a [slurm] table, or see --profile")
      ->required()
      ->check(CLI::ExistingFile);
  sub->add_flag("--dry-run", a->dry_run, "Print the batch script instead of submitting it");
  sub->add_option("--profile", a->profile,
                  "Cluster profile (configs/cluster_*.toml); replaces the job's [slurm] table");
  sub->add_option("--store", a->store, "Store path (overrides the job's)");
  sub->add_option("--sbatch-arg", a->sbatch_args,
                  "One more #SBATCH option, after the profile's (repeatable; write "
                  "--sbatch-arg=--qos=long)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  set_runner(sub, [a] { return submit(*a); });
}

}  // namespace mgcli
