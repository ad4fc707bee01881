// Rank 0's coordinator: hands batches to workers as they ask (dynamic
// scheduling), turns results into scores, is the store's single writer, and
// checkpoints. Baselines of a concept are held until the whole concept is in,
// then written together with its means (so a crash never leaves means that a
// resumed run would compute differently); means are exact fixed-point sums,
// so they do not depend on how batches were spread over ranks.
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sweep/plan.h"
#include "sweep/store.h"
#include "sweep/transport.h"

namespace mg::sweep {

// Exit status of `mgsweep run` after SIGTERM/SIGUSR1/SIGINT, or after a worker stalled: what
// was done is checkpointed; run the same command again to resume (the sbatch script requeues).
constexpr int kExitPreempted = 75;

// Set by the signal handler (or by a failing local worker); checked by the coordinator loop.
extern std::atomic<bool> g_stop_requested;
// Set with g_stop_requested when the stop is due to an error, not a signal: the run then ends
// with that error, not with "stopped by signal".
extern std::atomic<bool> g_stop_for_error;
// SIGTERM, SIGUSR1 and SIGINT (a second SIGINT kills at once). Worker ranks ignore them.
void install_stop_handlers(bool coordinator);

class Coordinator {
 public:
  // `hosts`: each worker's host name, for messages (may be empty).
  Coordinator(const Plan& plan, Store& store, CoordinatorLink& link,
              std::vector<std::string> hosts = {});
  // Runs until every batch is done (returns 0), a stop was requested (returns kExitPreempted
  // after a checkpoint; 1 when the stop was for an error), or the only workers left have
  // stalled (kExitPreempted after a checkpoint; stalled_workers() says which).
  int run();
  // Workers that had not answered within the stall bound when run() returned.
  std::vector<int> stalled_workers() const;

 private:
  struct ConceptBaseline {
    int64_t batches_left = 0;
    std::vector<int64_t> sums;          // [sites, steps, width] fixed point, all sites flat
    std::vector<double> self_distance;  // [P, L, L]
    std::vector<int16_t> codes;         // [P, K, T]
    std::vector<float> logits;          // [P, classes]
  };

  void load_progress();
  bool batch_done_in_store(const Batch& b) const;
  int64_t next_batch();  // -1: none eligible now
  bool eligible(const Batch& b) const;
  void assign(int worker);
  void ingest(int worker, const BatchResult& r);
  void ingest_baseline(const Batch& b, const BatchResult& r);
  void finalize_concept(int64_t c);
  void ingest_lens(const Batch& b, const BatchResult& r);
  void ingest_interventions(const Batch& b, const BatchResult& r);
  void write_extremes();
  void load_concept(int64_t c);  // resume: means and baseline logits from the store
  void checkpoint();
  void progress(bool force);
  // A worker that has held its batch past stall_bound() is marked stalled and its batch is
  // queued for another worker; one that answers again is taken back.
  void check_stalls();
  double stall_bound() const;
  std::string worker_name(int w) const;
  size_t site_offset(int64_t mean_index) const;  // in a flat [sites, steps, width] array

  const Plan& plan_;
  Store& store_;
  CoordinatorLink& link_;
  std::vector<uint8_t> batch_done_;
  std::vector<int64_t> outstanding_;  // per worker: batch index or -1
  std::vector<bool> stopped_;
  std::vector<std::string> hosts_;
  std::vector<double> assigned_at_;  // per worker: when its outstanding batch was sent
  std::vector<double> last_heard_;   // per worker: its last message (an idle one asks often)
  std::vector<bool> stalled_;
  std::deque<int64_t> retry_;  // batches taken from stalled workers, dispatched first
  double longest_batch_ = 0;   // wall seconds, assignment to result, of any batch so far
  std::vector<std::set<std::pair<int64_t, int64_t>>> worker_means_;
  size_t cursor_ = 0;
  std::vector<ConceptBaseline> concept_;
  std::vector<bool> means_ready_;
  std::vector<float> baseline_logits_;                               // [C, P, classes]
  std::map<std::pair<int64_t, int64_t>, std::vector<float>> means_;  // (concept, site)
  // Progress, per stage.
  int64_t items_total_[3] = {0, 0, 0};
  int64_t items_done_[3] = {0, 0, 0};
  int64_t items_this_run_[3] = {0, 0, 0};
  double stage_seconds_[3] = {0, 0, 0};
  int64_t stage_items_[3] = {0, 0, 0};
  double start_ = 0, last_checkpoint_ = 0, last_progress_ = 0;
  uint64_t bytes_in_ = 0, bytes_out_ = 0;  // message payloads, for the throughput summary
};

}  // namespace mg::sweep
