#include "cli/commands.h"

#include <map>

namespace mgcli {

void add_make_model_command(CLI::App& app);
void add_generate_command(CLI::App& app);

void add_run_command(CLI::App& app);
void add_status_command(CLI::App& app);
void add_submit_command(CLI::App& app);
void add_rescore_command(CLI::App& app);
void add_migrate_command(CLI::App& app);
void add_verify_command(CLI::App& app);
void add_export_audio_command(CLI::App& app);
void add_report_command(CLI::App& app);

int* g_argc = nullptr;
char*** g_argv = nullptr;

std::vector<AddCommand> all_commands() {
  return {add_make_model_command, add_generate_command,     add_run_command,
          add_status_command,     add_verify_command,       add_rescore_command,
          add_migrate_command,    add_export_audio_command, add_report_command,
          add_submit_command};
}

namespace {
std::map<CLI::App*, RunCommand>& runners() {
  static std::map<CLI::App*, RunCommand> r;
  return r;
}
}  // namespace

void set_runner(CLI::App* sub, RunCommand run) { runners()[sub] = std::move(run); }

int run_selected(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands()) {
    auto it = runners().find(sub);
    if (it != runners().end()) return it->second();
  }
  return 1;
}

}  // namespace mgcli
