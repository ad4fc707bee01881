// Kill -9 tests of the store. A forked child runs a small sweep against a store (item i writes
// known values f(i) into several datasets, then done[i] = 1, and a checkpoint every few items,
// after which it tells the parent, through a pipe, which items that checkpoint covered). The
// parent kills it with SIGKILL, either at a random instant or at a chosen place in the
// store's code (a crash hook that raises SIGKILL: inside create, after a journal append, at
// every step of checkpoint), then checks, read-only and through a resume: the store opens;
// every done item holds exactly f(i); every item a completed checkpoint covered is done;
// unfinished items hold f(i) or the fill value, nothing else. The file alone (read without
// the journal, as h5py reads it during a run or after a kill) must never flag an item done
// whose values are not all there: checked in this process after every kill, and with h5py
// (store_h5py_check.py crash) at every crash point. Finally it finishes the sweep and
// compares every dataset, byte for byte, with an uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "musicgen/errors.h"
#include "sweep/store.h"

namespace fs = std::filesystem;
using mg::sweep::ElemType;
using mg::sweep::Store;
using mg::sweep::StoreLayout;
using mg::sweep::store_testing::CrashPoint;

namespace {

constexpr uint64_t kItems = 300;
constexpr size_t kBatch = 4;  // items per checkpoint
constexpr uint64_t kVec = 256;
// In the pipe from the child: i | kJournaledBit once item i's records are all in the journal
// (put() returned), i alone once a checkpoint that covers it returned.
constexpr uint32_t kJournaledBit = 0x80000000u;

std::string scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "store" /
                 (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

StoreLayout sweep_layout() {
  StoreLayout l;
  l.datasets.push_back({"/result/value", ElemType::F64, {kItems, 3}, NAN, "f(i)", {}});
  l.datasets.push_back({"/result/vec", ElemType::F32, {kItems, kVec}, NAN, "", {}});
  l.datasets.push_back({"/result/tag", ElemType::I32, {kItems}, -1, "", {}});
  l.datasets.push_back({"/result/code", ElemType::I16, {kItems}, 0, "", {}});
  l.datasets.push_back({"/result/big", ElemType::I64, {kItems, 2}, 0, "", {}});
  l.datasets.push_back({"/done", ElemType::U8, {kItems}, 0, "", {}});
  l.datasets.push_back({"/progress/count", ElemType::I64, {1}, 0, "items done", {}});
  std::vector<std::string> names;
  for (uint64_t i = 0; i < kItems; ++i) names.push_back("item " + std::to_string(i));
  l.string_datasets.push_back({"/items", names});
  l.attributes["spec_toml"] = "[crash]\nitems = " + std::to_string(kItems) + "\n";
  return l;
}

std::vector<double> f_value(uint64_t i) { return {i * 0.5, std::sin(double(i)), -double(i)}; }
std::vector<float> f_vec(uint64_t i) {
  std::vector<float> v(kVec);
  for (uint64_t k = 0; k < kVec; ++k) v[k] = static_cast<float>(i * 1000 + k) * 0.25f;
  return v;
}
int32_t f_tag(uint64_t i) { return static_cast<int32_t>(i * 7) - 3; }
int16_t f_code(uint64_t i) { return static_cast<int16_t>((i * 31) % 30000); }
std::vector<int64_t> f_big(uint64_t i) {
  return {static_cast<int64_t>(i) << 35, -static_cast<int64_t>(i * i)};
}

// What the child reported before it died.
struct Acks {
  std::set<uint32_t> checkpointed;
  std::set<uint32_t> journaled;
};

// What the child and the parent share: where the child is (for the statistics).
struct Shared {
  volatile int in_checkpoint;
  volatile int phase;
};
Shared* g_shared = nullptr;
CrashPoint g_kill_at{};
uint64_t g_kill_arg = 0;
int g_kill_countdown = 0;  // kill at this occurrence of g_kill_at (0: never)

void record_phase(CrashPoint p, uint64_t) {
  if (g_shared != nullptr) g_shared->phase = static_cast<int>(p) + 1;
}

void kill_hook(CrashPoint p, uint64_t arg) {
  record_phase(p, arg);
  if (g_kill_countdown > 0 && p == g_kill_at &&
      (p != CrashPoint::kCheckpointRecordApplied || arg == g_kill_arg) && --g_kill_countdown == 0) {
    ::raise(SIGKILL);
  }
}

// The sweep: resumes from the done mask, checkpoints every kBatch items and then writes
// the covered items to ack_fd (if >= 0).
void run_sweep(const std::string& path, int ack_fd) {
  std::unique_ptr<Store> s =
      Store::exists(path) ? Store::open(path) : Store::create(path, sweep_layout());
  std::vector<uint8_t> done = s->read_all<uint8_t>("/done");
  int64_t count = 0;
  for (uint8_t d : done) count += d;
  std::vector<uint32_t> batch;
  auto checkpoint = [&](bool close) {
    if (g_shared != nullptr) g_shared->in_checkpoint = 1;
    if (close) {
      s->close();
    } else {
      s->checkpoint();
    }
    if (g_shared != nullptr) g_shared->in_checkpoint = 0;
    if (ack_fd >= 0 && !batch.empty()) {
      const ssize_t n = ::write(ack_fd, batch.data(), batch.size() * sizeof(uint32_t));
      (void)n;
    }
    batch.clear();
  };
  for (uint64_t i = 0; i < kItems; ++i) {
    if (done[i]) continue;
    s->put<double>("/result/value", {i, 0}, {1, 3}, f_value(i));
    s->put<float>("/result/vec", {i, 0}, {1, kVec}, f_vec(i));
    s->put<int32_t>("/result/tag", {i}, {1}, {f_tag(i)});
    s->put<int16_t>("/result/code", {i}, {1}, {f_code(i)});
    s->put<int64_t>("/result/big", {i, 0}, {1, 2}, f_big(i));
    s->put<uint8_t>("/done", {i}, {1}, {1});
    s->put<int64_t>("/progress/count", {0}, {1}, {++count});
    if (ack_fd >= 0) {
      const uint32_t journaled = static_cast<uint32_t>(i) | kJournaledBit;
      const ssize_t n = ::write(ack_fd, &journaled, sizeof(journaled));
      (void)n;
    }
    batch.push_back(static_cast<uint32_t>(i));
    if (batch.size() == kBatch) checkpoint(false);
  }
  checkpoint(true);
}

template <class T>
bool row_is(const std::vector<T>& all, uint64_t i, const std::vector<T>& want) {
  return std::memcmp(all.data() + i * want.size(), want.data(), want.size() * sizeof(T)) == 0;
}

template <class T>
bool row_is_fill(const std::vector<T>& all, uint64_t i, size_t width, T fill) {
  for (size_t k = 0; k < width; ++k) {
    const T v = all[i * width + k];
    if (std::isnan(static_cast<double>(fill)) ? !std::isnan(static_cast<double>(v)) : v != fill) {
      return false;
    }
  }
  return true;
}

// An item of the store as read back: its flag, whether every dataset holds f(i), and whether
// each one holds f(i) or its fill value (what an unfinished item may show).
struct ItemRead {
  uint8_t done = 0;
  bool holds_f = false;
  bool f_or_fill = false;
};

std::vector<ItemRead> read_items(const Store& s) {
  const auto done = s.read_all<uint8_t>("/done");
  const auto value = s.read_all<double>("/result/value");
  const auto vec = s.read_all<float>("/result/vec");
  const auto tag = s.read_all<int32_t>("/result/tag");
  const auto code = s.read_all<int16_t>("/result/code");
  const auto big = s.read_all<int64_t>("/result/big");
  std::vector<ItemRead> items(kItems);
  for (uint64_t i = 0; i < kItems; ++i) {
    const bool v = row_is(value, i, f_value(i));
    const bool w = row_is(vec, i, f_vec(i));
    const bool t = tag[i] == f_tag(i);
    const bool c = code[i] == f_code(i);
    const bool b = row_is(big, i, f_big(i));
    items[i].done = done[i];
    items[i].holds_f = v && w && t && c && b;
    items[i].f_or_fill = (v || row_is_fill<double>(value, i, 3, NAN)) &&
                         (w || row_is_fill<float>(vec, i, kVec, NAN)) && (t || tag[i] == -1) &&
                         (c || code[i] == 0) && (b || row_is_fill<int64_t>(big, i, 2, 0));
  }
  return items;
}

// Checks the invariants; returns the number of done items.
uint64_t check_store(const Store& s, const Acks& acks, const std::string& what) {
  const std::vector<ItemRead> items = read_items(s);
  uint64_t ndone = 0;
  for (uint64_t i = 0; i < kItems; ++i) {
    if (items[i].done == 1) {
      ++ndone;
      EXPECT_TRUE(items[i].holds_f) << what << ": done item " << i << " lacks f(i)";
    } else {
      EXPECT_EQ(items[i].done, 0) << what << ": item " << i;
      EXPECT_TRUE(items[i].f_or_fill) << what << ": item " << i;
      EXPECT_EQ(acks.checkpointed.count(static_cast<uint32_t>(i)), 0u)
          << what << ": item " << i << " was checkpointed but is not done";
      // Stronger than the promise (at most the work since the last checkpoint is lost): a
      // kill -9 without a power loss loses nothing that put() journaled.
      EXPECT_EQ(acks.journaled.count(static_cast<uint32_t>(i)), 0u)
          << what << ": item " << i << " was journaled but is not done";
    }
  }
  const int64_t count = s.read_all<int64_t>("/progress/count")[0];
  EXPECT_TRUE(count == static_cast<int64_t>(ndone) || count + 1 == static_cast<int64_t>(ndone))
      << what << ": count " << count << " for " << ndone << " done items";
  return ndone;
}

// PATH alone, without its journal: what h5py sees. Every item flagged done holds f(i), every
// other one f(i) or the fill, and every item that a completed checkpoint covered is done.
// values_synced (a kill at kCheckpointValuesSynced): every journaled item holds f(i) and
// at least one of them is not flagged yet (the checkpoint under way writes its flags last).
void check_file_alone(const std::string& path, const Acks& acks, bool values_synced,
                      const std::string& what) {
  auto s = Store::open_read_only(path, false);
  const std::vector<ItemRead> items = read_items(*s);
  size_t journaled_unflagged = 0;
  for (uint64_t i = 0; i < kItems; ++i) {
    const bool journaled = acks.journaled.count(static_cast<uint32_t>(i)) > 0;
    if (items[i].done == 1) {
      EXPECT_TRUE(items[i].holds_f)
          << what << ": file alone: item " << i << " is flagged done but lacks its values";
    } else {
      EXPECT_EQ(items[i].done, 0) << what << ": file alone: item " << i;
      EXPECT_TRUE(items[i].f_or_fill) << what << ": item " << i;
      EXPECT_EQ(acks.checkpointed.count(static_cast<uint32_t>(i)), 0u)
          << what << ": file alone: checkpointed item " << i << " is not done";
      if (journaled) ++journaled_unflagged;
    }
    if (values_synced && journaled) {
      EXPECT_TRUE(items[i].holds_f)
          << what << ": values of journaled item " << i << " not in the file yet";
    }
  }
  if (values_synced) {
    EXPECT_GT(journaled_unflagged, 0u) << what << ": the flags were written with the values";
  }
}

// The same check through h5py, in another process and another HDF5 (h5py's own). Returns
// false, having added a failure, when h5py is missing (unless MGSWEEP_ALLOW_SKIP=1).
bool check_file_with_h5py(const std::string& path, const Acks& acks, bool values_synced,
                          const std::string& what) {
  const char* py = std::getenv("MGSWEEP_PYTHON");
  if (py == nullptr ||
      std::system((std::string(py) + " -c 'import h5py' 2>/dev/null").c_str()) != 0) {
    const char* allow = std::getenv("MGSWEEP_ALLOW_SKIP");
    if (allow == nullptr || std::string(allow) != "1") {
      ADD_FAILURE() << "h5py not available (MGSWEEP_PYTHON=" << (py ? py : "unset")
                    << "): install it with .venv/bin/pip install -r tests/requirements-diff.txt";
    }
    return false;
  }
  std::string journaled;
  for (uint32_t i : acks.journaled) journaled += (journaled.empty() ? "" : ",") + std::to_string(i);
  const std::string cmd =
      std::string(py) + " " + MGSWEEP_TEST_DATA + "/sweep/store_h5py_check.py " + path + " crash " +
      std::to_string(kItems) + " " + std::to_string(kVec) + " " +
      (values_synced ? "values-synced" : "any") + " " + (journaled.empty() ? "-" : journaled);
  EXPECT_EQ(std::system(cmd.c_str()), 0) << what << ": h5py sees an inconsistent file";
  return true;
}

struct RoundResult {
  bool killed = false;  // died of SIGKILL (not finished)
  bool in_checkpoint = false;
  int phase = 0;
};

// One child run; kill it after delay_us (random mode) or let the hook kill it.
RoundResult run_child(const std::string& path, Acks* acks, int64_t delay_us, Shared* shared,
                      CrashPoint kill_at = {}, int countdown = 0, uint64_t kill_arg = 0) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  shared->in_checkpoint = 0;
  shared->phase = 0;
  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    g_shared = shared;
    g_kill_at = kill_at;
    g_kill_countdown = countdown;
    g_kill_arg = kill_arg;
    mg::sweep::store_testing::set_crash_hook(kill_hook);
    try {
      run_sweep(path, fds[1]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "crash child: %s\n", e.what());
      ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  if (delay_us >= 0) {
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  RoundResult r;
  r.killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  if (!r.killed) {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child failed";
  }
  r.in_checkpoint = shared->in_checkpoint != 0;
  r.phase = shared->phase;
  uint32_t buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) {
    for (ssize_t k = 0; k < n / 4; ++k) {
      if (buf[k] & kJournaledBit) {
        acks->journaled.insert(buf[k] & ~kJournaledBit);
      } else {
        acks->checkpointed.insert(buf[k]);
      }
    }
  }
  ::close(fds[0]);
  return r;
}

// After a kill: check read-only (journal included), then (on resume rounds) through open().
uint64_t verify(const std::string& path, const Acks& acked, bool resume, const std::string& what) {
  if (!Store::exists(path)) {
    EXPECT_TRUE(acked.checkpointed.empty() && acked.journaled.empty()) << what;
    return 0;
  }
  uint64_t ndone = 0;
  try {
    check_file_alone(path, acked, false, what);
    ndone = check_store(*Store::open_read_only(path), acked, what + " (read-only)");
    if (resume) {
      auto s = Store::open(path);
      EXPECT_EQ(check_store(*s, acked, what + " (resumed)"), ndone) << what;
      s->close();
      EXPECT_EQ(check_store(*Store::open_read_only(path, false), acked, what + " (no journal)"),
                ndone);
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": " << e.what();
  }
  return ndone;
}

Shared* make_shared() {
  void* p =
      ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(p, MAP_FAILED);
  return static_cast<Shared*>(p);
}

// ref_path: a store made by run_sweep without interruption.
void expect_same_as_uninterrupted(const std::string& path, const std::string& ref_path) {
  auto a = Store::open_read_only(path, false);
  auto b = Store::open_read_only(ref_path, false);
  ASSERT_EQ(a->datasets(), b->datasets());
  for (const std::string& d : a->datasets()) {
    const auto shape = a->shape(d);
    uint64_t n = mg::sweep::elem_size(a->type(d));
    for (auto x : shape) n *= x;
    std::vector<uint8_t> x(n), y(n);
    a->read(d, std::vector<uint64_t>(shape.size(), 0), shape, x.data(), n);
    b->read(d, std::vector<uint64_t>(shape.size(), 0), shape, y.data(), n);
    EXPECT_TRUE(x == y) << d << " differs from the uninterrupted run";
  }
  EXPECT_EQ(a->read_strings("/items"), b->read_strings("/items"));
  EXPECT_EQ(a->attributes(), b->attributes());
}

}  // namespace

// A kill at each place in the store's code, one after the other on the same store.
TEST(StoreCrash, KillAtEveryStepOfCreateAndCheckpoint) {
  const std::string dir = scratch_dir();
  const std::string path = dir + "/s.h5";
  Shared* shared = make_shared();
  Acks acked;
  struct Step {
    CrashPoint point;
    int countdown;
    uint64_t arg;
    const char* name;
  };
  const std::vector<Step> steps = {
      {CrashPoint::kCreateFileBuilt, 1, 0, "create: file built, not linked"},
      {CrashPoint::kCreateLinked, 1, 0, "create: linked, no journal yet"},
      {CrashPoint::kPutAppended, 10, 0, "after the 10th journal append"},
      {CrashPoint::kCheckpointJournalSynced, 2, 0, "checkpoint: journal synced"},
      {CrashPoint::kCheckpointRecordApplied, 2, 0, "checkpoint: first record applied"},
      {CrashPoint::kCheckpointRecordApplied, 2, 13, "checkpoint: 14th record applied"},
      {CrashPoint::kCheckpointValuesSynced, 2, 0, "checkpoint: values synced, no flag yet"},
      // Record 5 is the first item's /done: the first record of the flag phase.
      {CrashPoint::kCheckpointRecordApplied, 2, 5, "checkpoint: first flag record applied"},
      {CrashPoint::kCheckpointDataSynced, 2, 0, "checkpoint: data synced, not committed"},
      {CrashPoint::kCheckpointCommitted, 2, 0, "checkpoint: committed, journal not truncated"},
      {CrashPoint::kCheckpointDone, 2, 0, "checkpoint: done"},
      // The replay in open() is a checkpoint too: kill it half-way, then resume again.
      {CrashPoint::kPutAppended, 9, 0, "after the 9th journal append (for the replay)"},
      {CrashPoint::kCheckpointRecordApplied, 1, 4, "replay: 5th record applied"},
      {CrashPoint::kCheckpointDataSynced, 1, 0, "replay: data synced"},
      {CrashPoint::kPutAppended, 9, 0, "after the 9th journal append (for another replay)"},
      {CrashPoint::kCheckpointValuesSynced, 1, 0, "replay: values synced, no flag yet"},
  };
  uint64_t last_done = 0;
  int h5py_checks = 0;
  for (size_t k = 0; k < steps.size(); ++k) {
    const Step& st = steps[k];
    const RoundResult r = run_child(path, &acked, -1, shared, st.point, st.countdown, st.arg);
    EXPECT_TRUE(r.killed) << st.name << ": the child was not killed there";
    const bool values_synced = st.point == CrashPoint::kCheckpointValuesSynced;
    if (Store::exists(path)) {
      check_file_alone(path, acked, values_synced, st.name);
      h5py_checks += check_file_with_h5py(path, acked, values_synced, st.name) ? 1 : 0;
    }
    // Resume in the parent only where the next step does not need the journal intact.
    const bool resume = k + 1 < steps.size() && st.point != CrashPoint::kPutAppended;
    const uint64_t ndone = verify(path, acked, resume, st.name);
    EXPECT_GE(ndone, last_done) << st.name << ": done items went missing";
    last_done = ndone;
    if (k == 0) {
      EXPECT_FALSE(Store::exists(path));
    }
    if (k == 1) {
      EXPECT_TRUE(Store::exists(path));
    }
  }
  run_sweep(path, -1);
  EXPECT_EQ(verify(path, acked, true, "finished"), kItems);
  run_sweep(dir + "/reference.h5", -1);
  expect_same_as_uninterrupted(path, dir + "/reference.h5");
  std::cout << "[crash] " << h5py_checks << " h5py checks of the file without its journal\n";
  ::munmap(shared, sizeof(Shared));
}

// Kills at random instants (0-50 ms after the child starts), at least 20 of them. When a
// sweep finishes before that (a fast disk), it is checked against the uninterrupted run and
// the next one starts on a fresh store.
TEST(StoreCrash, KillAtRandomInstantsThenFinish) {
  const std::string dir = scratch_dir();
  Shared* shared = make_shared();
  mg::sweep::store_testing::set_crash_hook(nullptr);
  run_sweep(dir + "/reference.h5", -1);
  std::mt19937_64 rng(std::random_device{}());
  int rounds = 0, killed = 0, in_checkpoint = 0, sweeps = 0;
  std::map<int, int> phases;
  while (!::testing::Test::HasFailure()) {
    const std::string path = dir + "/s" + std::to_string(sweeps++) + ".h5";
    Acks acked;
    uint64_t last_done = 0;
    bool finished = false;
    while (!::testing::Test::HasFailure() && rounds < 400) {
      const int64_t delay = static_cast<int64_t>(rng() % 50001);
      const RoundResult r = run_child(path, &acked, delay, shared);
      ++rounds;
      if (!r.killed) {  // it finished before the kill
        finished = true;
        break;
      }
      ++killed;
      if (r.in_checkpoint) {
        ++in_checkpoint;
        ++phases[r.phase];
      }
      const uint64_t ndone = verify(
          path, acked, rounds % 2 == 0,
          "round " + std::to_string(rounds) + ", killed after " + std::to_string(delay) + " us");
      EXPECT_GE(ndone, last_done);
      last_done = ndone;
      if (killed >= 20 && in_checkpoint >= 5) break;
    }
    if (!finished) run_sweep(path, -1);  // finish the work in this process
    EXPECT_EQ(verify(path, acked, true, "finished"), kItems);
    expect_same_as_uninterrupted(path, dir + "/reference.h5");
    if ((killed >= 20 && in_checkpoint >= 5) || rounds >= 400) break;
  }
  std::cout << "[crash] " << sweeps << " sweep(s), " << rounds << " rounds, " << killed
            << " kills, " << in_checkpoint << " inside checkpoint (last phase reached:";
  for (const auto& [p, n] : phases) std::cout << " " << p << "x" << n;
  std::cout << ")\n";
  EXPECT_GE(killed, 20);
  EXPECT_GE(in_checkpoint, 1);
  ::munmap(shared, sizeof(Shared));
}
