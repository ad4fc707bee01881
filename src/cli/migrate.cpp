// mgsweep migrate STORE: an older store brought up to this mgsweep's schema from what it
// holds (see sweep/migrate.h).
#include "sweep/migrate.h"

#include <cstdio>
#include <memory>

#include "cli/commands.h"

namespace mgcli {

void add_migrate_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "migrate",
      "Bring a store of an older schema up to date from its stored results (no generation): "
      "mgsweep.store/1 -> /2 recomputes precision as -KL(after || before) and adds "
      "ideal_precision; /2 -> /3 adds per-item checksums and the model/classifier fingerprints");
  sub->add_option("store", *path, "Store (.h5); refused while a run writes it")->required();
  set_runner(sub, [path] {
    const mg::sweep::MigrateResult r = mg::sweep::migrate_store(*path);
    if (r.from == r.to) {
      std::printf("migrate: %s already has schema %s; nothing to do\n", path->c_str(),
                  r.to.c_str());
      return 0;
    }
    std::printf(
        "migrate: %s: %s -> %s (%lld intervention items rescored in %lld score groups; %lld "
        "items checksummed; model fingerprint %s, classifier fingerprint %s)\n",
        path->c_str(), r.from.c_str(), r.to.c_str(), static_cast<long long>(r.items),
        static_cast<long long>(r.score_groups), static_cast<long long>(r.checksummed),
        r.model_fingerprint.c_str(), r.classifier_fingerprint.c_str());
    return 0;
  });
}

}  // namespace mgcli
