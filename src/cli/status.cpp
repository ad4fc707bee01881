// mgsweep status STORE: progress per stage, also while a run writes the store.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "sweep/store.h"

namespace mgcli {
namespace {

int show_status(const std::string& path) {
  auto store = mg::sweep::Store::open_read_only(path);
  std::printf("store: %s\n", path.c_str());
  if (store->has_attribute("spec_hash"))
    std::printf("spec hash: %s\n", store->attribute("spec_hash").c_str());
  const auto secs = store->read_all<double>("/meta/stage_seconds");
  const auto items = store->read_all<int64_t>("/meta/stage_items");
  const char* stages[] = {"baseline", "lens", "interventions"};
  const char* masks[] = {"/baseline/done", "/lens/done", "/interventions/done"};
  int64_t left_total = 0;
  for (int s = 0; s < 3; ++s) {
    if (!store->has_dataset(masks[s])) continue;
    const auto done = store->read_all<uint8_t>(masks[s]);
    int64_t d = 0;
    for (uint8_t v : done) d += v != 0;
    const int64_t total = static_cast<int64_t>(done.size());
    const double rate = secs[s] > 0 ? items[s] / secs[s] : 0;
    std::printf("%-14s %10lld / %-10lld %6.2f%%  %.3f items per compute-second\n", stages[s],
                static_cast<long long>(d), static_cast<long long>(total),
                total ? 100.0 * d / total : 100.0, rate);
    left_total += total - d;
  }
  if (store->has_dataset("/extremes/done"))
    std::printf("%-14s %s\n", "extremes",
                store->read_all<uint8_t>("/extremes/done")[0] ? "done" : "pending");
  std::printf("left: %lld items\n", static_cast<long long>(left_total));
  return 0;
}

}  // namespace

void add_status_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("status", "Progress of a store (also while a run writes it)");
  sub->add_option("store", *path, "Store (.h5)")->required();
  set_runner(sub, [path] { return show_status(*path); });
}

}  // namespace mgcli
