#include "sweep/migrate.h"

#include <cmath>
#include <limits>

#include "classify/metrics.h"
#include "musicgen/errors.h"
#include "sweep/fingerprint.h"
#include "sweep/item_checksum.h"
#include "sweep/plan.h"
#include "sweep/store_edit.h"

namespace mg::sweep {

namespace {

constexpr const char* kSchemaV1 = "mgsweep.store/1";
constexpr const char* kSchemaV2 = "mgsweep.store/2";

std::string schema_of(const Store& store) {
  return store.has_attribute("schema") ? store.attribute("schema") : std::string("(none)");
}

size_t label_of(const JobSpec& spec, int64_t concept_index) {
  return static_cast<size_t>(spec.concepts.at(static_cast<size_t>(concept_index)).label);
}

// Recomputes `prefix`/interventions/precision from `prefix`/interventions/logits against
// `prefix`/baseline/logits and adds `prefix`/interventions/ideal_precision. Returns the items.
int64_t migrate_scores(const Store& store, const JobSpec& spec, const std::string& prefix,
                       StoreEdit& out) {
  const std::string iv = prefix + "/interventions/", base = prefix + "/baseline/logits";
  const auto shape = store.shape(iv + "logits");  // [nT, nQ, P, J, N]
  const uint64_t nT = shape[0], nQ = shape[1], P = shape[2], J = shape[3], N = shape[4];
  const auto done = store.read_all<uint8_t>("/interventions/done");
  const auto status = store.read_all<uint8_t>(iv + "status");
  const auto pairs = store.read_all<int64_t>("/interventions/pairs");
  const auto before = store.read_all<float>(base);
  const double nan = std::numeric_limits<double>::quiet_NaN();

  out.open_dataset(iv + "precision");
  int64_t items = 0;
  std::vector<double> prec(J);
  std::vector<mg::metrics::EffectScore> sc(J);
  // One (technique, pair, prompt) block of logits at a time: a paper-sized store's logits are
  // gigabytes.
  for (uint64_t t = 0; t < nT; ++t)
    for (uint64_t q = 0; q < nQ; ++q)
      for (uint64_t p = 0; p < P; ++p) {
        const auto after =
            store.read_values<float>(iv + "logits", {t, q, p, 0, 0}, {1, 1, 1, J, N});
        const int64_t a = pairs[2 * q], b = pairs[2 * q + 1];
        mg::metrics::effect_scores(before.data() + (a * P + p) * N, after.data(), J, N,
                                   label_of(spec, a), label_of(spec, b), sc.data());
        const uint64_t row = ((t * nQ + q) * P + p) * J;
        for (uint64_t j = 0; j < J; ++j) {
          // Only what the store scored: an item not done, or scored with a failure status,
          // keeps its NaN.
          const bool scored = done[row + j] && status[row + j] == 0;
          prec[j] = scored ? sc[j].precision : nan;
          items += scored;
        }
        out.write(iv + "precision", {t, q, p, 0}, {1, 1, 1, J}, prec.data());
      }
  out.dataset(iv + "ideal_precision", ElemType::F64, {nQ, P}, nan, kIdealPrecisionDoc);
  const auto ideal = ideal_precisions(spec, pairs, before, P, N);
  out.write_all(iv + "ideal_precision", ideal.data());
  out.attribute(iv + "precision", "doc", kPrecisionDoc);
  return items;
}

}  // namespace

std::vector<double> ideal_precisions(const JobSpec& spec, const std::vector<int64_t>& pairs,
                                     const std::vector<float>& baseline_logits, uint64_t P,
                                     uint64_t N) {
  const uint64_t nQ = pairs.size() / 2;
  std::vector<double> out(nQ * P);
  for (uint64_t q = 0; q < nQ; ++q) {
    const int64_t a = pairs[2 * q], b = pairs[2 * q + 1];
    for (uint64_t p = 0; p < P; ++p)
      out[q * P + p] = mg::metrics::ideal_precision(baseline_logits.data() + (a * P + p) * N, N,
                                                    label_of(spec, a), label_of(spec, b));
  }
  return out;
}

void require_current_schema(const Store& store, const std::string& command) {
  const std::string have = schema_of(store);
  if (have == kStoreSchema) return;
  if (have == kSchemaV1 || have == kSchemaV2)
    throw InputError(
        store.path(), "schema",
        "has store schema " + have + ", older than this mgsweep's " + kStoreSchema + " (" +
            (have == kSchemaV1 ? "precision is now -KL(after || before), as in the paper's code, "
                                 "ideal_precision was added, and "
                               : "") +
            "results now carry per-item checksums and the store the fingerprints "
            "of its model and classifier); " +
            command + " refused",
        "run `mgsweep migrate " + store.path() +
            "` once (it computes them from the stored results, nothing is "
            "generated again), then " +
            command + " again");
  throw InputError(store.path(), "schema",
                   "has store schema " + have + ", which this mgsweep (schema " + kStoreSchema +
                       ") does not know; " + command + " refused",
                   "use the mgsweep that made the store, or a newer one");
}

namespace {

// mgsweep.store/2 -> /3: per-item checksums of what the store holds (item_checksum.h) and the
// model/classifier fingerprints, taken from the paths of the store's job where they exist
// (relative ones from here, as `mgsweep run` reads them), else "unknown".
void migrate_v2_integrity(const Store& store, const std::string& path, MigrateResult* r) {
  const JobSpec spec = load_job_text(store.attribute("spec_toml"), path + ":spec_toml");
  const Fingerprints fp = job_fingerprints(spec, /*lenient=*/true);
  edit_store_copy(path, ".migrate.tmp", [&](StoreEdit& out) {
    r->checksummed = write_checksums(store, out);
    out.attribute("/", kModelFingerprintAttr, fp.model);
    out.attribute("/", kClassifierFingerprintAttr, fp.classifier);
    out.attribute("/", kModelPathAttr, fp.model_path);
    out.attribute("/", kClassifierPathAttr, fp.classifier_path);
    out.attribute("/", "schema", kStoreSchema);
    if (!store.has_attribute("migrated_from")) out.attribute("/", "migrated_from", r->from);
  });
  r->model_fingerprint = fp.model;
  r->classifier_fingerprint = fp.classifier;
}

// mgsweep.store/1 -> /2 (see migrate.h).
void migrate_v1_scores(const Store& store, const std::string& path, MigrateResult* r) {
  // The concepts' labels, from the job the store was made from (no model needed).
  const JobSpec spec = load_job_text(store.attribute("spec_toml"), path + ":spec_toml");
  std::vector<std::string> prefixes;
  if (store.has_dataset("/interventions/logits")) {
    prefixes.push_back("");
    for (const std::string& d : store.datasets()) {
      const std::string tail = "/interventions/logits";
      if (d.rfind("/rescore/", 0) == 0 && d.size() > tail.size() &&
          d.compare(d.size() - tail.size(), tail.size(), tail) == 0)
        prefixes.push_back(d.substr(0, d.size() - tail.size()));
    }
  }
  edit_store_copy(path, ".migrate.tmp", [&](StoreEdit& out) {
    for (const std::string& prefix : prefixes) {
      r->items += migrate_scores(store, spec, prefix, out);
      ++r->score_groups;
    }
    // The spec as this mgsweep writes and hashes it (schema 2 dropped the removed compat_*
    // switches, always false in a store that loads, and added classifier.fit_length), so that
    // the original job resumes the migrated store.
    out.attribute("/", "spec_toml", spec.to_toml());
    out.attribute("/", "spec_hash", spec.result_hash());
    out.attribute("/", "schema", kSchemaV2);
    out.attribute("/", "migrated_from", r->from);
  });
}

}  // namespace

MigrateResult migrate_store(const std::string& path) {
  std::unique_ptr<Store> store = Store::open(path);  // the writer's lock, to the end
  MigrateResult r;
  r.from = schema_of(*store);
  r.to = r.from;
  if (r.from == kStoreSchema) return r;
  if (r.from != kSchemaV1 && r.from != kSchemaV2) require_current_schema(*store, "migrate");
  if (r.from == kSchemaV1) {
    migrate_v1_scores(*store, path, &r);
    // The checksums cover the migrated scores: read them from the migrated file.
    store.reset();
    store = Store::open(path);
  }
  migrate_v2_integrity(*store, path, &r);
  r.to = kStoreSchema;
  return r;
}

}  // namespace mg::sweep
