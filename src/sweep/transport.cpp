#include "sweep/transport.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace mg::sweep {

void LocalPipe::to_coordinator(Message m) {
  std::lock_guard<std::mutex> g(mu_);
  up_.push_back(std::move(m));
}

bool LocalPipe::poll_coordinator(Message* out) {
  std::lock_guard<std::mutex> g(mu_);
  if (up_.empty()) return false;
  *out = std::move(up_.front());
  up_.pop_front();
  return true;
}

void LocalPipe::to_worker(Message m) {
  {
    std::lock_guard<std::mutex> g(mu_);
    down_.push_back(std::move(m));
  }
  cv_.notify_all();
}

Message LocalPipe::wait_worker() {
  std::unique_lock<std::mutex> g(mu_);
  cv_.wait(g, [&] { return !down_.empty(); });
  Message m = std::move(down_.front());
  down_.pop_front();
  return m;
}

CoordinatorLink::CoordinatorLink(LocalPipe* local, int world_size)
    : local_(local), world_(world_size) {}

bool CoordinatorLink::poll(Message* out) {
  if (local_ && local_->poll_coordinator(out)) {
    out->peer = 0;
    return true;
  }
  if (world_ <= 1) return false;
  int flag = 0;
  MPI_Status st;
  MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
  if (!flag) return false;
  int count = 0;
  MPI_Get_count(&st, MPI_BYTE, &count);
  out->data.resize(static_cast<size_t>(count));
  MPI_Recv(out->data.data(), count, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  out->peer = st.MPI_SOURCE;
  out->tag = static_cast<Tag>(st.MPI_TAG);
  return true;
}

void CoordinatorLink::send(int worker, Tag tag, std::vector<uint8_t> data) {
  if (worker == 0) {
    local_->to_worker(Message{0, tag, std::move(data)});
    return;
  }
  MPI_Send(data.data(), static_cast<int>(data.size()), MPI_BYTE, worker, static_cast<int>(tag),
           MPI_COMM_WORLD);
}

void WorkerLink::send(Tag tag, std::vector<uint8_t> data) {
  if (local_) {
    local_->to_coordinator(Message{0, tag, std::move(data)});
    return;
  }
  MPI_Send(data.data(), static_cast<int>(data.size()), MPI_BYTE, 0, static_cast<int>(tag),
           MPI_COMM_WORLD);
}

Message WorkerLink::receive() {
  if (local_) return local_->wait_worker();
  MPI_Status st;
  MPI_Probe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
  int count = 0;
  MPI_Get_count(&st, MPI_BYTE, &count);
  Message m;
  m.data.resize(static_cast<size_t>(count));
  MPI_Recv(m.data.data(), count, MPI_BYTE, 0, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  m.tag = static_cast<Tag>(st.MPI_TAG);
  return m;
}

MpiSession::MpiSession(int* argc, char*** argv) {
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    if (provided < MPI_THREAD_FUNNELED)
      throw std::runtime_error("MPI does not provide MPI_THREAD_FUNNELED");
    finalize_ = true;
  }
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &local_rank_);
  MPI_Comm_size(local, &local_size_);
  MPI_Comm_free(&local);
}

MpiSession::~MpiSession() {
  if (finalize_) MPI_Finalize();
}

std::vector<std::string> MpiSession::gather_host_names(double timeout_s,
                                                       std::vector<int>* missing) const {
  // Point to point, not MPI_Gather: a collective would wait forever for a rank that stalled
  // before it (a hung GPU during its model load), while rank 0 can give up on a probe.
  constexpr int kHelloTag = 100;  // apart from the coordinator's Tag values
  char name[MPI_MAX_PROCESSOR_NAME] = {0};
  int len = 0;
  MPI_Get_processor_name(name, &len);
  std::vector<std::string> out;
  if (rank_ != 0) {
    MPI_Send(name, len, MPI_CHAR, 0, kHelloTag, MPI_COMM_WORLD);
    return out;
  }
  out.assign(static_cast<size_t>(size_), std::string());
  out[0].assign(name, static_cast<size_t>(len));
  const double deadline = MPI_Wtime() + timeout_s;
  for (int r = 1; r < size_; ++r) {
    int flag = 0;
    MPI_Status st;
    while (!flag) {
      MPI_Iprobe(r, kHelloTag, MPI_COMM_WORLD, &flag, &st);
      if (flag || MPI_Wtime() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!flag) {
      if (missing) missing->push_back(r);
      continue;
    }
    int count = 0;
    MPI_Get_count(&st, MPI_CHAR, &count);
    std::vector<char> buf(static_cast<size_t>(std::max(count, 1)));
    MPI_Recv(buf.data(), count, MPI_CHAR, r, kHelloTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    out[static_cast<size_t>(r)].assign(buf.data(), static_cast<size_t>(count));
  }
  return out;
}

void MpiSession::abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

}  // namespace mg::sweep
