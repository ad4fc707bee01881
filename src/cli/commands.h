// Registry of subcommands. A subcommand file defines one `add_<name>_command`
// that adds its CLI11 subcommand with a callback stored in the registry below.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace mgcli {

using AddCommand = std::function<void(CLI::App&)>;
using RunCommand = std::function<int()>;

// All subcommands, in the order --help lists them.
std::vector<AddCommand> all_commands();

// Records what the selected subcommand runs once parsing succeeded.
void set_runner(CLI::App* sub, RunCommand run);
int run_selected(CLI::App& app);

}  // namespace mgcli
