// mgsweep rescore STORE --classifier FILE: another classifier's scores beside the first, from
// the stored codes (see sweep/rescore.h).
#include "sweep/rescore.h"

#include <ATen/Parallel.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"

namespace mgcli {

void add_rescore_command(CLI::App& app) {
  auto o = std::make_shared<mg::sweep::RescoreOptions>();
  auto threads = std::make_shared<int>(0);
  CLI::App* sub = app.add_subcommand(
      "rescore",
      "Score a store's generations with another classifier, without generating again: adds "
      "/rescore/NAME/ (logits, NDCG, effects) beside the run's scores");
  sub->add_option("store", o->store, "Store (.h5); refused while a run writes it")->required();
  sub->add_option("--classifier", o->classifier,
                  "TorchScript classifier file, or 'demo' for the built-in demo classifier")
      ->required();
  sub->add_option("--name", o->name, "Name of the scores (default: the classifier file's stem)");
  sub->add_option("--model", o->model, "Model folder (default: the job's model)");
  sub->add_option("--labels", o->labels,
                  "Label CSV for a classifier file without labels.csv (default: the job's)");
  sub->add_option("--device", o->device, "cpu | cuda | cuda:N (default: the job's device)");
  sub->add_option("--batch", o->batch,
                  "Generations decoded per call (default 0: the run's batches, which reproduces "
                  "the run's audio bit for bit)");
  sub->add_flag("--force", o->force, "Replace an existing /rescore/NAME");
  sub->add_option("--threads", *threads, "Intra-op threads (default: LibTorch's)");
  set_runner(sub, [o, threads] {
    if (*threads > 0) at::set_num_threads(*threads);
    const mg::sweep::RescoreResult r = mg::sweep::rescore(*o);
    std::printf(
        "rescore: %s -> /rescore/%s (%lld classes): %lld baseline, %lld lens, %lld intervention "
        "items in %.1f s\n",
        r.classifier.c_str(), r.name.c_str(), static_cast<long long>(r.num_classes),
        static_cast<long long>(r.items[0]), static_cast<long long>(r.items[1]),
        static_cast<long long>(r.items[2]), r.seconds);
    return 0;
  });
}

}  // namespace mgcli
