// The HDF5 store (src/sweep/store.h): how many small results the coordinator can record per
// second, and what a checkpoint costs.
//
//   bench_store                     files go to $MGSWEEP_BENCH_DIR, else the temp directory;
//                                   put them on the file system the runs will use (fsync
//                                   dominates and differs a lot between local disks, NFS,
//                                   Lustre).
//
// BM_PutItems/N        one item = two put()s (4 floats of results + its done byte), with a
//                      checkpoint after every N items; items/s includes the checkpoints.
// BM_Checkpoint/N      the latency of one checkpoint() with N items pending (2N records).
// BM_ReadDoneMask/N    reading a 100k-item done mask with N items pending (the overlay).
// BM_OpenReplay/N      open() of a store whose journal holds N items (replayed there).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sweep/store.h"

namespace {

namespace fs = std::filesystem;
using mg::sweep::ElemType;
using mg::sweep::Store;

constexpr uint64_t kItems = 100000;

std::string bench_path(const std::string& name) {
  const char* env = std::getenv("MGSWEEP_BENCH_DIR");
  fs::path dir = (env != nullptr && *env != '\0') ? fs::path(env) : fs::temp_directory_path();
  dir /= "mgsweep_bench_store_" + std::to_string(::getpid());
  fs::create_directories(dir);
  const std::string p = (dir / name).string();
  fs::remove(p);
  fs::remove(Store::journal_path(p));
  return p;
}

void remove_store(const std::string& p) {
  fs::remove(p);
  fs::remove(Store::journal_path(p));
  std::error_code ec;
  fs::remove(fs::path(p).parent_path(), ec);  // once empty
}

std::unique_ptr<Store> make_store(const std::string& p) {
  mg::sweep::StoreLayout l;
  l.datasets.push_back({"/results/scores", ElemType::F32, {kItems, 4}, 0, "", {}});
  l.datasets.push_back({"/done", ElemType::U8, {kItems}, 0, "", {}});
  return Store::create(p, l);
}

void put_item(Store& s, uint64_t i) {
  const float v[4] = {float(i), 1.f, 2.f, 3.f};
  const uint8_t one = 1;
  s.put("/results/scores", {i % kItems, 0}, {1, 4}, v, sizeof(v));
  s.put("/done", {i % kItems}, {1}, &one, 1);
}

void BM_PutItems(benchmark::State& state) {
  const std::string p = bench_path("put.h5");
  auto s = make_store(p);
  const uint64_t every = static_cast<uint64_t>(state.range(0));
  uint64_t i = 0;
  for (auto _ : state) {
    put_item(*s, i++);
    if (i % every == 0) s->checkpoint();
  }
  s->checkpoint();
  state.SetItemsProcessed(static_cast<int64_t>(i));
  s.reset();
  remove_store(p);
}
BENCHMARK(BM_PutItems)
    ->Arg(10)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_Checkpoint(benchmark::State& state) {
  const std::string p = bench_path("checkpoint.h5");
  auto s = make_store(p);
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  uint64_t i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (uint64_t k = 0; k < n; ++k) put_item(*s, i++);
    state.ResumeTiming();
    s->checkpoint();
  }
  state.counters["records"] = static_cast<double>(2 * n);
  s.reset();
  remove_store(p);
}
BENCHMARK(BM_Checkpoint)->Arg(1)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_ReadDoneMask(benchmark::State& state) {
  const std::string p = bench_path("read.h5");
  auto s = make_store(p);
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  for (uint64_t k = 0; k < n; ++k) put_item(*s, k * 7);
  std::vector<uint8_t> mask(kItems);
  for (auto _ : state) {
    s->read("/done", {0}, {kItems}, mask.data(), mask.size());
    benchmark::DoNotOptimize(mask.data());
  }
  s.reset();
  remove_store(p);
}
BENCHMARK(BM_ReadDoneMask)->Arg(0)->Arg(100)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_OpenReplay(benchmark::State& state) {
  const std::string p = bench_path("replay.h5");
  make_store(p)->close();
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    {
      auto s = Store::open(p);
      for (uint64_t k = 0; k < n; ++k) put_item(*s, k);
    }  // destroyed without a checkpoint: the journal keeps the records
    state.ResumeTiming();
    auto s = Store::open(p);
    benchmark::DoNotOptimize(s.get());
  }
  remove_store(p);
}
BENCHMARK(BM_OpenReplay)->Arg(0)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
