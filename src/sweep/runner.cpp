#include "sweep/runner.h"

#include <ATen/Parallel.h>
#include <hdf5.h>
#include <torch/version.h>  // TORCH_VERSION (csrc/api/include)
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "musicgen/errors.h"
#include "musicgen/musicgen.h"
#include "sweep/coordinator.h"
#include "sweep/executor.h"
#include "sweep/fingerprint.h"
#include "sweep/job_classifier.h"
#include "sweep/migrate.h"
#include "sweep/plan.h"
#include "sweep/transport.h"

namespace mg::sweep {
namespace fs = std::filesystem;

namespace {

at::Device pick_device(const std::string& want, int local_rank) {
  if (want == "cpu" || (want == "auto" && !at::hasCUDA())) return at::kCPU;
  if (!at::hasCUDA())
    throw mg::InputError("job", "generation.device", "cuda requested but no GPU is visible");
  // One GPU per rank, by local rank (Slurm/Open MPI set CUDA_VISIBLE_DEVICES per node).
  const int n = static_cast<int>(at::getNumGPUs());
  return at::Device(at::kCUDA, static_cast<at::DeviceIndex>(local_rank % n));
}

// The loop every worker runs: ask, compute, answer with the result. On the coordinator's
// stop it logs what it computed: the one record of how work spread over the ranks (the
// ranks test checks that every rank had some; a rank that never gets any is wasted money).
void worker_loop(WorkerLink& link, const Plan& plan, Executor& exec, int rank) {
  MeansCache means;
  std::vector<uint8_t> result;  // empty: nothing to report yet
  int64_t batches = 0, items = 0;
  for (;;) {
    link.send(Tag::Request, std::move(result));
    result.clear();
    Message m = link.receive();
    if (m.tag == Tag::Stop) {
      std::fprintf(stderr, "run: rank %d computed %lld batches, %lld items\n", rank,
                   static_cast<long long>(batches), static_cast<long long>(items));
      return;
    }
    if (m.tag == Tag::Wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    Task t = decode_task(m.data);
    for (auto& mb : t.means) {
      const int64_t width = static_cast<int64_t>(mb.values.size()) / mb.rows;
      means[{mb.concept_id, mb.mean_index}] =
          at::from_blob(mb.values.data(), {mb.rows, width}, at::kFloat).clone();
    }
    BatchResult r = exec.run(plan.batches[t.batch], means);
    r.batch = t.batch;
    result = encode_result(r);
    ++batches;
    items += plan.batches[t.batch].count;
  }
}

// Run metadata, written once with the store (its metadata never changes afterwards).
std::map<std::string, std::string> run_metadata(const MpiSession& mpi, const std::string& device,
                                                int threads, const std::string& classifier) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  return {{"created_by", "mgsweep " MGSWEEP_VERSION},
          {"created_with_libtorch", TORCH_VERSION},
          {"created_with_hdf5",
           std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel)},
          {"created_on_host", host},
          {"created_with_ranks", std::to_string(mpi.size())},
          {"created_with_device", device},
          {"created_with_threads_per_rank", std::to_string(threads)},
          {"created_with_classifier", classifier}};
}

// Whether any item of the store is done (journal included): a store without one holds nothing
// a researcher could lose, e.g. the one left by a run that failed on its first batch.
bool holds_results(const Store& store) {
  for (const std::string& d : store.datasets()) {
    if (d.size() < 5 || d.compare(d.size() - 5, 5, "/done") != 0) continue;
    const auto done = store.read_all<uint8_t>(d);
    if (std::any_of(done.begin(), done.end(), [](uint8_t v) { return v != 0; })) return true;
  }
  return false;
}

// Removes a store that holds no result (see holds_results), so that a corrected job can
// start afresh on its path; `refusal` is why a resume of it was refused.
void replace_empty_store(std::unique_ptr<Store> store, const std::string& refusal) {
  const std::string path = store->path();
  store.reset();  // closes the files and the writer's lock
  std::fprintf(stderr,
               "run: replacing %s: it holds no completed item, and a resume was refused: %s\n",
               path.c_str(), refusal.c_str());
  fs::remove(Store::journal_path(path));
  fs::remove(path);
}

// The checks of a resume: the store's schema, the job it was made from, and the model and
// classifier it was made with. InputError naming what differs.
void check_resume(const Store& store, const JobSpec& spec, const Fingerprints& fp) {
  require_current_schema(store, "resume");
  if (!store.has_attribute("spec_hash") || store.attribute("spec_hash") != spec.result_hash()) {
    std::string diff;
    if (store.has_attribute("spec_toml")) {
      JobSpec old = load_job_text(store.attribute("spec_toml"), spec.store + ":spec_toml");
      for (const auto& d : JobSpec::result_differences(old, spec))
        diff += (diff.empty() ? " " : "; ") + d;
    }
    throw mg::InputError(spec.store, "spec_hash",
                         "was made from a job whose results differ from this one:" + diff,
                         "use the original job, or --store a new path");
  }
  check_fingerprints(store, fp, spec.store);
}

std::unique_ptr<Store> open_or_create(const Plan& plan, const JobSpec& spec,
                                      const std::map<std::string, std::string>& meta) {
  // What the results are computed with, beyond the spec: the model's and classifier's bytes.
  const Fingerprints fp = job_fingerprints(spec);
  if (Store::exists(spec.store)) {
    auto store = Store::open(spec.store);
    try {
      check_resume(*store, spec, fp);
      std::fprintf(stderr, "run: resuming %s\n", spec.store.c_str());
      return store;
    } catch (const mg::InputError& e) {
      // Nothing to lose in a store without a completed item: replaced instead of refused.
      if (holds_results(*store)) throw;
      replace_empty_store(std::move(store), e.what());
    }
  }
  {
    fs::path dir = fs::path(spec.store).parent_path();
    if (!dir.empty()) fs::create_directories(dir);
    std::fprintf(stderr, "run: creating %s\n", spec.store.c_str());
    StoreLayout layout = plan.layout();
    layout.attributes.insert(meta.begin(), meta.end());
    layout.attributes[kModelFingerprintAttr] = fp.model;
    layout.attributes[kClassifierFingerprintAttr] = fp.classifier;
    layout.attributes[kModelPathAttr] = fp.model_path;
    layout.attributes[kClassifierPathAttr] = fp.classifier_path;
    return Store::create(spec.store, layout);
  }
}

}  // namespace

namespace {
int run_ranks(const RunArgs& args, MpiSession& mpi);
}

int run_job(const RunArgs& args, int* argc, char*** argv) {
  MpiSession mpi(argc, argv);
  if (mpi.size() == 1) return run_ranks(args, mpi);
  // Under mpirun an error on one rank must not leave the others waiting forever.
  try {
    return run_ranks(args, mpi);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mgsweep: error (rank %d): %s\n", mpi.rank(), e.what());
    std::fflush(stderr);
    mpi.abort(dynamic_cast<const mg::InputError*>(&e) ? 2 : 1);
    return 2;
  }
}

namespace {
int run_ranks(const RunArgs& args, MpiSession& mpi) {
  JobSpec spec = load_job(args.job);
  if (!args.store_override.empty()) spec.store = args.store_override;
  const mg::MusicgenConfig model_cfg =
      mg::MusicgenConfig::from_file((fs::path(spec.model) / "config.json").string());
  validate_against_model(spec, model_cfg);
  const Plan plan(spec, model_cfg);

  // Threads: the node's cores shared among its ranks, unless told.
  int threads = args.threads;
  if (threads <= 0)
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / mpi.local_size());
  at::set_num_threads(threads);

  std::unique_ptr<mg::MusicGen> model;
  std::unique_ptr<mg::Classifier> classifier;
  std::unique_ptr<Executor> exec;
  if (args.null_workers) {
    exec = std::make_unique<NullExecutor>(plan);
  } else {
    const at::Device dev = pick_device(spec.generation.device, mpi.local_rank());
    model = std::make_unique<mg::MusicGen>(
        spec.model, mg::RunOptions{dev, mg::parse_dtype(spec.generation.dtype)});
    classifier = make_job_classifier(
        spec.classifier.kind == "demo" ? std::string("demo") : spec.classifier.path, spec,
        model_cfg, "", dev);
    check_clip_length(spec, model_cfg, *classifier, spec.source);
    exec = std::make_unique<ModelExecutor>(plan, *model, *classifier);
  }

  // Every rank reports its host once its model is loaded; rank 0 names ranks by host in its
  // messages. A rank that never reports (stalled in its load: a hung GPU or file system) must
  // not hold the job forever: after the stall bound (at least 10 s: loads vary more than
  // batches), or half an hour without the key, rank 0 gives up and asks for a requeue.
  // Test hook (tests/faults/run_faults.py stall_start): this rank stops itself here, as one
  // stalled in its load would; a signal from outside cannot land this precisely (a rank
  // stopped before MPI_Init holds every rank inside MPI_Init, which no code of ours can guard).
  if (const char* r = std::getenv("MGSWEEP_TEST_FREEZE_RANK_AFTER_LOAD");
      r && std::atoi(r) == mpi.rank() && mpi.rank() != 0)
    std::raise(SIGSTOP);
  std::vector<int> missing;
  const double hello_timeout_s =
      spec.stall_seconds > 0 ? std::max(10.0, spec.stall_seconds) : 1800.0;
  const std::vector<std::string> hosts = mpi.gather_host_names(hello_timeout_s, &missing);
  if (!missing.empty()) {
    std::string who;
    for (int r : missing) who += (who.empty() ? "rank " : ", rank ") + std::to_string(r);
    std::fprintf(stderr,
                 "run: stalled: %s did not report within %.0f s of rank 0's model load (job "
                 "key stall_seconds); nothing was computed -- exiting with %d so that the job is "
                 "requeued (run the same command to start again)\n",
                 who.c_str(), hello_timeout_s, kExitPreempted);
    std::fflush(stderr);
    mpi.abort(kExitPreempted);
  }
  install_stop_handlers(/*coordinator=*/mpi.rank() == 0);
  if (mpi.rank() != 0) {
    WorkerLink link(nullptr);
    worker_loop(link, plan, *exec, mpi.rank());
    return 0;
  }
  const std::string device_name = args.null_workers
                                      ? "none (null workers)"
                                      : pick_device(spec.generation.device, mpi.local_rank()).str();
  std::unique_ptr<Store> store = open_or_create(
      plan, spec,
      run_metadata(mpi, device_name, threads, classifier ? classifier->name() : "none"));
  LocalPipe pipe;
  CoordinatorLink link(&pipe, mpi.size());
  std::exception_ptr worker_error;
  std::atomic<bool> local_finished{false};
  std::thread local([&] {
    try {
      WorkerLink wl(&pipe);
      worker_loop(wl, plan, *exec, 0);
    } catch (...) {
      worker_error = std::current_exception();
      g_stop_for_error.store(true);
      g_stop_requested.store(true);
      // Tell the coordinator this worker is gone so that it can drain and stop.
      pipe.to_coordinator(Message{0, Tag::Request, {}});
    }
    local_finished.store(true);
  });

  int rc = 1;
  std::exception_ptr coordinator_error;
  std::vector<int> stalled;
  try {
    Coordinator coord(plan, *store, link, hosts);
    rc = coord.run();
    stalled = coord.stalled_workers();
    store->close();
  } catch (...) {
    coordinator_error = std::current_exception();
  }
  const bool local_stalled = std::find(stalled.begin(), stalled.end(), 0) != stalled.end();
  if (coordinator_error && !local_stalled) {
    // The local worker may be waiting for an answer: stop it (it finishes the batch in
    // hand first, for at most a minute).
    pipe.to_worker(Message{0, Tag::Stop, {}});
    for (int i = 0; i < 600 && !local_finished.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (local_stalled || !local_finished.load()) {
    // A thread that does not end cannot be joined, and a stalled rank cannot take part in
    // MPI_Finalize: end the process here. The store was closed above; the journal holds any
    // record not yet checkpointed (what the kernel has was written, process exit loses none).
    int code = rc;
    if (coordinator_error) {
      try {
        std::rethrow_exception(coordinator_error);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "mgsweep: error: %s\n", e.what());
        code = dynamic_cast<const mg::InputError*>(&e) ? 2 : 1;
      }
    }
    std::fflush(stderr);
    if (mpi.size() > 1) mpi.abort(code);
    std::_Exit(code);
  }
  local.join();
  if (coordinator_error) std::rethrow_exception(coordinator_error);
  if (worker_error) std::rethrow_exception(worker_error);
  if (!stalled.empty() && mpi.size() > 1) {
    // A remote rank that stalled would hold up MPI_Finalize forever.
    std::fflush(stderr);
    mpi.abort(rc);
  }
  return rc;
}
}  // namespace

}  // namespace mg::sweep
