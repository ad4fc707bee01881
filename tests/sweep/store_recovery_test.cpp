// Tests of the crash-safe HDF5 store (src/sweep/store.h) after damage: torn journal tails,
// stale records of an older generation, a damaged record in the middle of the journal (said,
// with what it costs), the journal of another store, corrupt files (refused and left
// untouched), files without permission (never called corrupt), and the single-writer lock
// that never locks readers out.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "musicgen/errors.h"
#include "store_test_util.h"
#include "sweep/journal.h"
#include "sweep/store.h"
#include "sweep/store_impl.h"

namespace fs = std::filesystem;
using mg::InputError;
using mg::sweep::ElemType;
using mg::sweep::Store;
using mg::sweep::StoreLayout;
using mgtest::scratch_dir;
using mgtest::slurp;
using mgtest::spit;

TEST(Store, TornJournalTailReplaysExactlyTheCompleteRecords) {
  const std::string dir = scratch_dir();
  const std::string path = dir + "/s.h5";
  const std::string jpath = Store::journal_path(path);
  StoreLayout l;
  l.datasets.push_back({"/v", ElemType::F32, {8, 4}, NAN, "", {}});
  l.datasets.push_back({"/done", ElemType::U8, {8}, 0, "", {}});
  std::vector<uint64_t> ends;  // journal size after each record
  {
    auto s = Store::create(path, l);
    for (uint64_t i = 0; i < 2; ++i) {
      s->put<float>("/v", {i, 0}, {1, 4}, std::vector<float>(4, i + 0.5f));
      s->put<uint8_t>("/done", {i}, {1}, {1});
    }
    s->checkpoint();
    ends.push_back(mg::sweep::kJournalHeaderSize);
    for (uint64_t i = 2; i < 5; ++i) {
      s->put<float>("/v", {i, 0}, {1, 4}, std::vector<float>(4, i + 0.5f));
      ends.push_back(mg::sweep::kJournalHeaderSize + s->journal_bytes());
      s->put<uint8_t>("/done", {i}, {1}, {1});
      ends.push_back(mg::sweep::kJournalHeaderSize + s->journal_bytes());
    }
  }
  const auto h5_bytes = slurp(path);
  const auto journal = slurp(jpath);
  ASSERT_EQ(journal.size(), ends.back());
  // Every cut inside the last record, and every record boundary.
  std::vector<uint64_t> cuts;
  for (uint64_t c = ends[ends.size() - 2]; c <= ends.back(); ++c) cuts.push_back(c);
  for (size_t k = 0; k + 2 < ends.size(); ++k) cuts.push_back(ends[k]);
  cuts.push_back(ends[1] + 3);
  for (uint64_t cut : cuts) {
    spit(path, h5_bytes);
    spit(jpath, std::vector<uint8_t>(journal.begin(), journal.begin() + cut));
    size_t complete = 0;
    while (complete + 1 < ends.size() && ends[complete + 1] <= cut) ++complete;
    auto s = Store::open(path);
    EXPECT_EQ(s->journal_bytes(), 0u);
    auto v = s->read_all<float>("/v");
    auto done = s->read_all<uint8_t>("/done");
    for (uint64_t i = 0; i < 8; ++i) {
      // Records after the checkpoint: (v2, done2, v3, done3, v4, done4).
      const bool v_in = i < 2 || (i <= 4 && complete >= 2 * (i - 2) + 1);
      const bool d_in = i < 2 || (i <= 4 && complete >= 2 * (i - 2) + 2);
      for (int c = 0; c < 4; ++c) {
        if (v_in) {
          ASSERT_EQ(v[i * 4 + c], i + 0.5f) << "cut " << cut << " item " << i;
        } else {
          ASSERT_TRUE(std::isnan(v[i * 4 + c])) << "cut " << cut << " item " << i;
        }
      }
      ASSERT_EQ(done[i], d_in ? 1 : 0) << "cut " << cut << " item " << i;
    }
    // The torn tail is gone: a new record appended now survives a reopen.
    s->put<uint8_t>("/done", {7}, {1}, {9});
    s.reset();
    ASSERT_EQ(Store::open(path)->read_all<uint8_t>("/done")[7], 9) << "cut " << cut;
  }
}

TEST(Store, StaleRecordsOfAnOlderGenerationAreNotReplayed) {
  const std::string path = scratch_dir() + "/s.h5";
  const std::string jpath = Store::journal_path(path);
  StoreLayout l;
  l.datasets.push_back({"/x", ElemType::I64, {2}, 0, "", {}});
  auto s = Store::create(path, l);
  s->put<int64_t>("/x", {0}, {2}, {1, 1});
  const auto old_journal = slurp(jpath);  // a generation-0 record
  s->checkpoint();
  s->put<int64_t>("/x", {0}, {2}, {2, 2});
  s->close();
  // As if the truncation had not reached the disk and old bytes reappeared.
  spit(jpath, old_journal);
  EXPECT_EQ(Store::open_read_only(path)->read_all<int64_t>("/x"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(Store::open(path)->read_all<int64_t>("/x"), (std::vector<int64_t>{2, 2}));
}

TEST(Store, JournalOfAnotherStoreIsRefused) {
  const std::string dir = scratch_dir();
  StoreLayout l;
  l.datasets.push_back({"/x", ElemType::I64, {2}, 0, "", {}});
  auto a = Store::create(dir + "/a.h5", l);
  Store::create(dir + "/b.h5", l)->close();
  a->put<int64_t>("/x", {0}, {2}, {5, 6});
  fs::copy_file(Store::journal_path(dir + "/a.h5"), Store::journal_path(dir + "/b.h5"),
                fs::copy_options::overwrite_existing);
  const auto b = slurp(dir + "/b.h5");
  const auto bj = slurp(Store::journal_path(dir + "/b.h5"));
  try {
    Store::open(dir + "/b.h5");
    FAIL() << "opened with a foreign journal";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("belongs to store"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Store::open_read_only(dir + "/b.h5"), InputError);
  EXPECT_EQ(slurp(dir + "/b.h5"), b);
  EXPECT_EQ(slurp(Store::journal_path(dir + "/b.h5")), bj);
  // A journal that is not a journal at all.
  spit(Store::journal_path(dir + "/b.h5"), std::vector<uint8_t>(100, 'j'));
  EXPECT_THROW(Store::open(dir + "/b.h5"), InputError);
  EXPECT_EQ(slurp(dir + "/b.h5"), b);
  EXPECT_EQ(slurp(Store::journal_path(dir + "/b.h5")), std::vector<uint8_t>(100, 'j'));
}

TEST(Store, CorruptFilesAreReportedAndLeftUntouched) {
  const std::string dir = scratch_dir();
  StoreLayout l;
  l.datasets.push_back({"/x", ElemType::F64, {1000}, 0, "", {}});
  {
    auto s = Store::create(dir + "/good.h5", l);
    s->put<double>("/x", {0}, {2}, {1.0, 2.0});
  }  // leaves a journal with a record
  const auto good = slurp(dir + "/good.h5");
  const auto journal = slurp(dir + "/good.h5.journal");

  auto expect_refused = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string p = dir + "/" + name;
    spit(p, bytes);
    spit(Store::journal_path(p), journal);
    for (int ro = 0; ro < 2; ++ro) {
      try {
        if (ro) {
          Store::open_read_only(p);
        } else {
          Store::open(p);
        }
        ADD_FAILURE() << name << " opened";
      } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find("not a readable mgsweep store"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("left untouched"), std::string::npos) << e.what();
      }
      EXPECT_EQ(slurp(p), bytes) << name;
      EXPECT_EQ(slurp(Store::journal_path(p)), journal) << name;
    }
  };
  std::mt19937 rng(7);
  std::vector<uint8_t> garbage(5000);
  for (auto& b : garbage) b = static_cast<uint8_t>(rng());
  expect_refused("garbage.h5", garbage);
  expect_refused("empty.h5", {});
  for (size_t cut : {size_t(8), size_t(100), good.size() / 2, good.size() - 1}) {
    expect_refused("cut" + std::to_string(cut) + ".h5",
                   std::vector<uint8_t>(good.begin(), good.begin() + cut));
  }
  // An HDF5 file that is not a store.
  {
    const std::string p = dir + "/plain.h5";
    hid_t f = H5Fcreate(p.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    expect_refused("plain.h5", slurp(p));
  }
  EXPECT_THROW(Store::open(dir + "/absent.h5"), InputError);
  EXPECT_FALSE(Store::exists(dir + "/absent.h5.journal"));
}

TEST(Store, OneWriterAtATimeAndReadersAreNeverLockedOut) {
  const std::string path = scratch_dir() + "/s.h5";
  StoreLayout l;
  l.datasets.push_back({"/x", ElemType::I32, {4}, 0, "", {}});
  auto w = Store::create(path, l);
  w->put<int32_t>("/x", {0}, {2}, {1, 2});
  w->checkpoint();
  w->put<int32_t>("/x", {2}, {1}, {3});
  try {
    Store::open(path);
    FAIL() << "a second writer got in";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("open for writing"), std::string::npos) << e.what();
  }
  auto r = Store::open_read_only(path);
  EXPECT_EQ(r->read_all<int32_t>("/x"), (std::vector<int32_t>{1, 2, 3, 0}));
  EXPECT_EQ(Store::open_read_only(path, false)->read_all<int32_t>("/x"),
            (std::vector<int32_t>{1, 2, 0, 0}));
  // (Another process with HDF5's default file locking, h5py, also gets in while the writer
  // is open: Store.ReadableWithH5pyWhileAndAfterWriting. In this process HDF5 refuses to open
  // the same file twice with different locking flags, so that is not checked here.)
  w->checkpoint();
  w.reset();
  EXPECT_EQ(Store::open(path)->read_all<int32_t>("/x"), (std::vector<int32_t>{1, 2, 3, 0}));
}

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(Store, DamagedRecordInTheMiddleIsReportedWithWhatItDrops) {
  const std::string path = scratch_dir() + "/s.h5";
  const std::string jpath = Store::journal_path(path);
  StoreLayout l;
  l.datasets.push_back({"/v", ElemType::F32, {8, 4}, NAN, "", {}});
  l.datasets.push_back({"/done", ElemType::U8, {8}, 0, "", {}});
  std::vector<uint64_t> ends;  // journal size after each record since the checkpoint
  {
    auto s = Store::create(path, l);
    s->put<float>("/v", {0, 0}, {1, 4}, std::vector<float>(4, 0.5f));
    s->put<uint8_t>("/done", {0}, {1}, {1});
    s->checkpoint();
    for (uint64_t i = 1; i < 5; ++i) {
      s->put<float>("/v", {i, 0}, {1, 4}, std::vector<float>(4, i + 0.5f));
      ends.push_back(mg::sweep::kJournalHeaderSize + s->journal_bytes());
      s->put<uint8_t>("/done", {i}, {1}, {1});
      ends.push_back(mg::sweep::kJournalHeaderSize + s->journal_bytes());
    }
  }  // no checkpoint: the journal holds (v1, done1, v2, done2, v3, done3, v4, done4)
  const auto h5_bytes = slurp(path);
  auto journal = slurp(jpath);
  ASSERT_EQ(journal.size(), ends.back());
  // Flip a payload byte of v2 (record 2, from ends[1] to ends[2]): its CRC fails, and the
  // 5 valid records after it (done2, v3, done3, v4, done4) must not be applied.
  journal[ends[2] - 10] ^= 0x40;
  spit(jpath, journal);

  ::testing::internal::CaptureStderr();
  auto ro = Store::open_read_only(path);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(err, "\n"), 1u) << err;  // one line
  EXPECT_NE(err.find("mgsweep: warning: " + jpath + ": the record at byte " +
                     std::to_string(ends[1]) + " is damaged (a checksum mismatch)"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("the 5 valid records after it are dropped (not shown here; a resume "
                     "recomputes their results): /done at [2] [3] [4]; /v at [3, 0] [4, 0]"),
            std::string::npos)
      << err;
  EXPECT_EQ(ro->read_all<uint8_t>("/done"), (std::vector<uint8_t>{1, 1, 0, 0, 0, 0, 0, 0}));
  ro.reset();

  ::testing::internal::CaptureStderr();
  auto w = Store::open(path);
  err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(err, "\n"), 1u) << err;
  EXPECT_NE(err.find("the 5 valid records after it are dropped: their results will be "
                     "recomputed: /done at [2] [3] [4]; /v at [3, 0] [4, 0]"),
            std::string::npos)
      << err;
  // The safe behaviour stays: nothing after the damaged record was applied.
  EXPECT_EQ(w->read_all<uint8_t>("/done"), (std::vector<uint8_t>{1, 1, 0, 0, 0, 0, 0, 0}));
  const auto v = w->read_all<float>("/v");
  EXPECT_EQ(v[4], 1.5f);
  for (size_t k = 8; k < v.size(); ++k) EXPECT_TRUE(std::isnan(v[k])) << k;
  w.reset();
  // The resume checkpointed what was valid and emptied the journal: nothing more to say.
  ::testing::internal::CaptureStderr();
  Store::open(path).reset();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");

  // Neither a torn tail nor stale bytes of an older generation are damage in the middle.
  spit(path, h5_bytes);
  auto torn = std::vector<uint8_t>(journal.begin(), journal.begin() + ends.back() - 3);
  torn[ends[2] - 10] ^= 0x40;  // undo the flip: only the tail is cut
  spit(jpath, torn);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Store::open(path)->read_all<uint8_t>("/done"),
            (std::vector<uint8_t>{1, 1, 1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(Store, DamagedRecordWarningListsAtMostSixItemsPerDataset) {
  mg::sweep::JournalScan scan;
  scan.valid_end = 64;
  scan.damage = "a checksum mismatch";
  for (uint64_t i = 0; i < 9; ++i) {
    mg::sweep::JournalRecord r;
    r.dataset = "/lens/done";
    r.offset = {i, 0};
    scan.dropped.push_back(r);
  }
  const std::string w = mg::sweep::store_detail::dropped_records_warning("j", scan, true);
  EXPECT_NE(w.find("the 9 valid records after it are dropped"), std::string::npos) << w;
  EXPECT_NE(w.find("/lens/done at [0, 0] [1, 0] [2, 0] [3, 0] [4, 0] [5, 0] and 3 more"),
            std::string::npos)
      << w;
  scan.dropped.clear();
  EXPECT_EQ(mg::sweep::store_detail::dropped_records_warning("j", scan, true), "");
}

// A file the user may not open is not a damaged file: the message says "permission denied",
// never "corrupt? ... move it away" (which would get good results deleted).
TEST(Store, PermissionErrorsAreNotCalledCorruption) {
  using mg::sweep::store_detail::access_error;
  for (int err : {EACCES, EPERM, EROFS}) {
    for (bool writing : {true, false}) {
      const std::string w = access_error("/x/s.h5", err, writing).what();
      EXPECT_EQ(w.rfind("/x/s.h5: permission denied opening it for " +
                            std::string(writing ? "writing" : "reading") + " (" +
                            std::strerror(err) + ")",
                        0),
                0u)
          << w;
      EXPECT_EQ(w.find("corrupt"), std::string::npos) << w;
      EXPECT_EQ(w.find("move it away"), std::string::npos) << w;
      EXPECT_NE(w.find("run the same command again"), std::string::npos) << w;
    }
  }
  // Real files without permission. Root ignores mode bits, so a child drops to "nobody".
  char tmpl[] = "/tmp/mgsweep-perm-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);
  const std::string path = dir + "/s.h5";
  StoreLayout l;
  l.datasets.push_back({"/x", ElemType::I32, {4}, 0, "", {}});
  {
    auto s = Store::create(path, l);
    s->put<int32_t>("/x", {0}, {1}, {7});
  }  // the record stays in the journal
  const auto before = slurp(path);
  const auto jbefore = slurp(Store::journal_path(path));
  // In the child: what open() (or open_read_only()) throws, written to the pipe.
  auto attempt = [&](bool writer) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      if (::geteuid() == 0 && ::setuid(65534) != 0) ::_exit(3);
      std::string msg = "opened";
      try {
        if (writer) {
          Store::open(path);
        } else {
          Store::open_read_only(path);
        }
      } catch (const std::exception& e) {
        msg = e.what();
      }
      const ssize_t n = ::write(fds[1], msg.data(), msg.size());
      ::_exit(n < 0 ? 4 : 0);
    }
    ::close(fds[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    return out;
  };
  const std::string jpath = Store::journal_path(path);
  ASSERT_EQ(::chmod(path.c_str(), 0444), 0);  // readable, not writable
  ASSERT_EQ(::chmod(jpath.c_str(), 0666), 0);
  std::string m = attempt(true);
  EXPECT_EQ(m.rfind(path + ": permission denied opening it for writing", 0), 0u) << m;
  EXPECT_EQ(m.find("corrupt"), std::string::npos) << m;
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  ASSERT_EQ(::chmod(jpath.c_str(), 0444), 0);  // the journal read-only
  m = attempt(true);
  EXPECT_EQ(m.rfind(jpath + ": permission denied opening it for writing", 0), 0u) << m;
  ASSERT_EQ(::chmod(path.c_str(), 0), 0);  // not even readable
  m = attempt(false);
  EXPECT_EQ(m.rfind(path + ": permission denied opening it for reading", 0), 0u) << m;
  EXPECT_EQ(m.find("move it away"), std::string::npos) << m;
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  ASSERT_EQ(::chmod(jpath.c_str(), 0644), 0);
  EXPECT_EQ(slurp(path), before);  // nothing was touched
  EXPECT_EQ(slurp(jpath), jbefore);
  EXPECT_EQ(Store::open(path)->read_all<int32_t>("/x"), (std::vector<int32_t>{7, 0, 0, 0}));
  fs::remove_all(dir);
}
