// mgsweep verify STORE: recomputes the checksum of every completed item from the stored values
// and lists the items whose bytes changed since they were written (sweep/item_checksum.h).
// Exit 0 when every item is intact, 1 when some are damaged (a resume recomputes them).
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "musicgen/errors.h"
#include "sweep/item_checksum.h"
#include "sweep/migrate.h"
#include "sweep/store.h"

namespace mgcli {
namespace {

int verify(const std::string& path) {
  auto store = mg::sweep::Store::open_read_only(path);
  // A schema-2 store has no checksums to verify against: say so instead of "clean".
  mg::sweep::require_current_schema(*store, "verify");
  const mg::sweep::StoreIntegrity in = mg::sweep::check_store_items(*store);
  for (const auto& d : in.damaged)
    std::printf("damaged: %s %s (stored checksum %lld, values give %lld)\n", d.stage.c_str(),
                d.label.c_str(), static_cast<long long>(d.stored),
                static_cast<long long>(d.computed));
  std::printf("verify: %s: %lld completed items checked, %zu damaged%s\n", path.c_str(),
              static_cast<long long>(in.checked), in.damaged.size(),
              in.damaged.empty() ? "" : " (`mgsweep run` on its job computes them again)");
  return in.damaged.empty() ? 0 : 1;
}

}  // namespace

void add_verify_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "verify",
      "Recompute the checksum of every completed item of a store and list the damaged ones "
      "(exit 1 if any)");
  sub->add_option("store", *path, "Store (.h5)")->required();
  set_runner(sub, [path] { return verify(*path); });
}

}  // namespace mgcli
