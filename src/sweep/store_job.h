// What every command that reads a finished store needs (rescore, migrate, export-audio):
// the job the store was made from, its plan, and its stored codes decoded to audio.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "musicgen/config.h"
#include "musicgen/musicgen.h"
#include "sweep/plan.h"
#include "sweep/spec.h"
#include "sweep/store.h"

namespace mg::sweep {

// The job a store was made from, with its model's config and plan. Not movable: the plan
// refers to the spec.
struct StoreJob {
  JobSpec spec;
  mg::MusicgenConfig model_config;
  std::unique_ptr<Plan> plan;

  StoreJob() = default;
  StoreJob(const StoreJob&) = delete;
  StoreJob& operator=(const StoreJob&) = delete;
};

// Loads the spec from the store's spec_toml (model_override replaces spec.model when not
// empty), validates it against the model's config.json and checks every dataset of the plan
// that the store holds has the plan's shape. InputError naming the store and what differs.
std::unique_ptr<StoreJob> load_store_job(const Store& store, const std::string& model_override);

// "auto" (a GPU when one is visible), "cpu", "cuda", "cuda:N".
at::Device resolve_device(const std::string& want);

// Row-major index -> coordinates within `shape`.
std::vector<uint64_t> unravel(int64_t flat, const std::vector<uint64_t>& shape);

// Reads the codes of `items` (flat indices into the leading axes `axes` of `codes_dataset`,
// whose last two axes are [K, T]) and decodes them: audio [n, channels, samples] float32 CPU.
at::Tensor decode_items(const Store& store, const std::string& codes_dataset,
                        const std::vector<int64_t>& items, const mg::MusicGen& model);

// "[2, 3]", for messages.
std::string shape_text(const std::vector<uint64_t>& shape);

}  // namespace mg::sweep
