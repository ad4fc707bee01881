// mgsweep run JOB.toml: the whole grid, alone or under mpirun/srun.
#include <memory>

#include "cli/commands.h"
#include "sweep/runner.h"

namespace mgcli {

// main() hands us argc/argv for MPI_Init (Open MPI reads its own options there).
extern int* g_argc;
extern char*** g_argv;

void add_run_command(CLI::App& app) {
  auto a = std::make_shared<mg::sweep::RunArgs>();
  CLI::App* sub = app.add_subcommand(
      "run",
      "Run a job (all its stages), resuming from its store; exit 75 = checkpointed after "
      "SIGTERM/SIGUSR1/SIGINT or a stalled rank (run again to resume)");
  sub->add_option("job", a->job, "Job file (TOML)")->required()->check(CLI::ExistingFile);
  sub->add_option("--store", a->store_override, "Store path (overrides the job's)");
  sub->add_option("--threads", a->threads, "Intra-op threads per rank (default: cores / ranks)");
  sub->add_flag("--null-workers", a->null_workers,
                "Workers do no model work (measures the coordinator alone)");
  set_runner(sub, [a] { return mg::sweep::run_job(*a, g_argc, g_argv); });
}

}  // namespace mgcli
