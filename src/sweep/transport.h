// How messages move. Rank 0 runs the coordinator on its main thread (the only
// thread that calls MPI, so MPI_THREAD_FUNNELED suffices) and its own worker on a
// second thread that talks to the coordinator through an in-process queue. Other
// ranks run a worker on their main thread over MPI.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "sweep/messages.h"

namespace mg::sweep {

struct Message {
  int peer = 0;  // worker id (= rank) on the coordinator side
  Tag tag = Tag::Request;
  std::vector<uint8_t> data;
};

// A blocking two-way queue between the coordinator and rank 0's own worker.
class LocalPipe {
 public:
  void to_coordinator(Message m);
  bool poll_coordinator(Message* out);  // non-blocking
  void to_worker(Message m);
  Message wait_worker();  // blocking

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> up_, down_;
};

// The coordinator's view of all workers: worker 0 is local, 1..n-1 are MPI ranks.
class CoordinatorLink {
 public:
  CoordinatorLink(LocalPipe* local, int world_size);
  int workers() const { return world_; }
  bool poll(Message* out);  // any worker; non-blocking
  void send(int worker, Tag tag, std::vector<uint8_t> data);

 private:
  LocalPipe* local_;
  int world_;
};

// A worker's view of the coordinator.
class WorkerLink {
 public:
  explicit WorkerLink(LocalPipe* local) : local_(local) {}  // local == nullptr: MPI rank 0
  void send(Tag tag, std::vector<uint8_t> data);
  Message receive();

 private:
  LocalPipe* local_;
};

// MPI set-up that also works without mpirun (a singleton). Finalizes on destruction.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  // Every rank's host name, on rank 0 (other ranks send theirs and get an empty vector).
  // Called by every rank once its model is loaded. Rank 0 waits at most `timeout_s` for each
  // rank: `missing` (rank 0 only) lists those that did not report, e.g. a rank stalled in its
  // load; their names are empty.
  std::vector<std::string> gather_host_names(double timeout_s, std::vector<int>* missing) const;
  void abort(int code);

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  bool finalize_ = false;
};

}  // namespace mg::sweep
