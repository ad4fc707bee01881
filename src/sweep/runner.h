// `mgsweep run`: sets up MPI, the plan, the store (created or resumed), the
// model and classifier on every rank, and runs coordinator + workers.
#pragma once

#include <string>

namespace mg::sweep {

struct RunArgs {
  std::string job;             // JOB.toml
  std::string store_override;  // --store
  bool null_workers = false;   // --null-workers: no model work (coordinator benchmark)
  int threads = 0;             // intra-op threads per rank (0: cores / ranks on the node)
};

int run_job(const RunArgs& args, int* argc, char*** argv);

}  // namespace mg::sweep
