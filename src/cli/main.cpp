// mgsweep: one command line for the model, the experiments and the store.
// Each subcommand lives in its own file and registers itself here.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "musicgen/errors.h"

namespace mgcli {
extern int* g_argc;
extern char*** g_argv;
}  // namespace mgcli

int main(int argc, char** argv) {
  mgcli::g_argc = &argc;
  mgcli::g_argv = &argv;
  CLI::App app{"mgsweep: interpretability sweeps over MusicGen at cluster scale"};
  app.require_subcommand(1);
  for (const auto& add : mgcli::all_commands()) add(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return mgcli::run_selected(app);
  } catch (const mg::InputError& e) {
    std::fprintf(stderr, "mgsweep: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mgsweep: error: %s\n", e.what());
    return 1;
  }
}
