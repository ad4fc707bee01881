// Tests of the crash-safe HDF5 store (src/sweep/store.h) and its journal: round trips,
// resume, torn journals, foreign journals, corrupt files, the single-writer lock, the claim
// that HDF5 metadata never changes after creation, and reading with h5py.
#include "sweep/store.h"

#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "musicgen/errors.h"
#include "sweep/journal.h"

namespace fs = std::filesystem;
using mg::InputError;
using mg::sweep::DatasetSpec;
using mg::sweep::ElemType;
using mg::sweep::Store;
using mg::sweep::StoreLayout;

namespace {

std::string scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "store" /
                 (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
}

void spit(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

StoreLayout every_type_layout() {
  StoreLayout l;
  l.datasets.push_back({"/results/f32", ElemType::F32, {3, 4}, NAN, "a float32 matrix", {}});
  l.datasets.push_back({"results/f64", ElemType::F64, {5}, 0, "", {}});
  l.datasets.push_back({"/results/deep/i64", ElemType::I64, {2, 2, 2}, -1, "", {}});
  l.datasets.push_back({"/i32", ElemType::I32, {7}, 0, "", {}});
  l.datasets.push_back({"/i16", ElemType::I16, {4}, 3, "", {}});
  l.datasets.push_back({"/done", ElemType::U8, {6}, 0, "1 when item i is done", {}});
  l.datasets.push_back({"/scalar", ElemType::F64, {}, 0.25, "", {}});
  l.datasets.push_back({"/empty", ElemType::F32, {0, 3}, 0, "", {}});
  l.datasets.push_back(
      {"/init", ElemType::I32, {2, 3}, 0, "", as_bytes(std::vector<int32_t>{1, 2, 3, 4, 5, 6})});
  l.attributes["schema_version"] = "3";
  l.attributes["spec_toml"] = "[job]\nname = \"demo\"\n" + std::string(200000, '#');  // > 64 KiB
  l.attributes["empty"] = "";
  l.string_datasets.push_back({"/prompts", {"Compose a happy rock piece", "ünïcødé ♪", ""}});
  l.string_datasets.push_back({"/meta/none", {}});
  return l;
}

}  // namespace

TEST(StoreJournal, Crc32cKnownValue) {
  EXPECT_EQ(mg::sweep::crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(mg::sweep::crc32c("", 0), 0u);
  // Incremental equals one shot.
  const std::string s = "The quick brown fox jumps over the lazy dog, twice over.";
  const uint32_t one = mg::sweep::crc32c(s.data(), s.size());
  const uint32_t two =
      mg::sweep::crc32c(s.data() + 7, s.size() - 7, mg::sweep::crc32c(s.data(), 7));
  EXPECT_EQ(one, two);
}

TEST(StoreJournal, EncodeScanRoundTripAndEveryTruncation) {
  const mg::sweep::StoreId id = mg::sweep::random_store_id();
  std::vector<uint8_t> j = mg::sweep::encode_journal_header(id);
  std::vector<size_t> ends;
  for (int i = 0; i < 4; ++i) {
    mg::sweep::JournalRecord r;
    r.dataset = "/d" + std::to_string(i);
    r.generation = 7;
    r.offset.assign(static_cast<size_t>(i), 1);
    r.count.assign(static_cast<size_t>(i), 2);
    r.payload.assign(static_cast<size_t>(3 * i + 1), static_cast<uint8_t>(i));
    mg::sweep::encode_journal_record(r, &j);
    ends.push_back(j.size());
  }
  for (size_t cut = 0; cut <= j.size(); ++cut) {
    auto s = mg::sweep::scan_journal(j.data(), cut, 7);
    if (cut < mg::sweep::kJournalHeaderSize) {
      EXPECT_FALSE(s.header_ok);
      continue;
    }
    ASSERT_TRUE(s.header_ok);
    EXPECT_EQ(s.store_id, id);
    size_t complete = 0;
    while (complete < ends.size() && ends[complete] <= cut) ++complete;
    ASSERT_EQ(s.records.size(), complete) << "cut " << cut;
    for (size_t i = 0; i < complete; ++i) {
      EXPECT_EQ(s.records[i].dataset, "/d" + std::to_string(i));
      EXPECT_EQ(s.records[i].payload.size(), 3 * i + 1);
    }
  }
  // Another generation: nothing is valid. A flipped byte: the prefix before it.
  EXPECT_TRUE(mg::sweep::scan_journal(j.data(), j.size(), 8).records.empty());
  std::vector<uint8_t> bad = j;
  bad[ends[1] + 5] ^= 0x40;
  EXPECT_EQ(mg::sweep::scan_journal(bad.data(), bad.size(), 7).records.size(), 2u);
  bad = j;
  bad[3] ^= 1;
  EXPECT_FALSE(mg::sweep::scan_journal(bad.data(), bad.size(), 7).header_ok);
}

TEST(Store, RoundTripEveryType) {
  const std::string path = scratch_dir() + "/s.h5";
  const StoreLayout layout = every_type_layout();
  auto s = Store::create(path, layout);
  EXPECT_FALSE(Store::exists(path + ".creating"));
  EXPECT_TRUE(Store::exists(Store::journal_path(path)));
  EXPECT_EQ(s->generation(), 0u);
  EXPECT_EQ(s->datasets(), (std::vector<std::string>{"/done", "/empty", "/i16", "/i32", "/init",
                                                     "/results/deep/i64", "/results/f32",
                                                     "/results/f64", "/scalar"}));
  EXPECT_EQ(s->string_datasets(), (std::vector<std::string>{"/meta/none", "/prompts"}));
  EXPECT_EQ(s->shape("/results/deep/i64"), (std::vector<uint64_t>{2, 2, 2}));
  EXPECT_EQ(s->shape("scalar"), std::vector<uint64_t>{});
  EXPECT_EQ(s->type("/i16"), ElemType::I16);
  EXPECT_EQ(s->doc("/done"), "1 when item i is done");
  EXPECT_EQ(s->attributes(), layout.attributes);
  EXPECT_EQ(s->attribute("spec_toml"), layout.attributes.at("spec_toml"));
  EXPECT_EQ(s->store_id().size(), 32u);
  EXPECT_THROW(s->attribute("nope"), InputError);

  // Fill values.
  auto f32 = s->read_all<float>("/results/f32");
  for (float v : f32) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(s->read_all<int64_t>("/results/deep/i64"), std::vector<int64_t>(8, -1));
  EXPECT_EQ(s->read_all<int16_t>("/i16"), std::vector<int16_t>(4, 3));
  EXPECT_EQ(s->read_all<double>("/scalar"), std::vector<double>{0.25});
  EXPECT_EQ(s->read_all<int32_t>("/init"), (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(s->read_all<float>("/empty").empty());
  EXPECT_EQ(s->read_strings("/prompts"), layout.string_datasets[0].second);
  EXPECT_TRUE(s->read_strings("/meta/none").empty());

  // One put per type.
  s->put<float>("/results/f32", {1, 1}, {2, 2}, {1.5f, 2.5f, 3.5f, 4.5f});
  s->put<double>("/results/f64", {0}, {5}, {0.1, 0.2, 0.3, 0.4, 0.5});
  s->put<int64_t>("/results/deep/i64", {1, 0, 1}, {1, 2, 1}, {int64_t(1) << 40, -5});
  s->put<int32_t>("/i32", {6}, {1}, {-123456});
  s->put<int16_t>("/i16", {0}, {2}, {-32768, 32767});
  s->put<uint8_t>("/done", {2}, {3}, {1, 1, 255});
  s->put<double>("/scalar", {}, {}, {-7.0});
  s->put<int32_t>("/init", {0, 2}, {2, 1}, {30, 60});
  s->put<float>("/empty", {0, 0}, {0, 3}, std::vector<float>{});

  auto check = [&](const Store& st) {
    auto m = st.read_all<float>("/results/f32");
    for (size_t i = 0; i < 12; ++i) {
      const size_t r = i / 4, c = i % 4;
      if (r >= 1 && c >= 1 && c <= 2) {
        EXPECT_EQ(m[i], 1.5f + static_cast<float>((r - 1) * 2 + (c - 1))) << i;
      } else {
        EXPECT_TRUE(std::isnan(m[i])) << i;
      }
    }
    EXPECT_EQ(st.read_all<double>("/results/f64"), (std::vector<double>{0.1, 0.2, 0.3, 0.4, 0.5}));
    EXPECT_EQ(st.read_all<int64_t>("/results/deep/i64"),
              (std::vector<int64_t>{-1, -1, -1, -1, -1, int64_t(1) << 40, -1, -5}));
    EXPECT_EQ(st.read_all<int32_t>("/i32"), (std::vector<int32_t>{0, 0, 0, 0, 0, 0, -123456}));
    EXPECT_EQ(st.read_all<int16_t>("/i16"), (std::vector<int16_t>{-32768, 32767, 3, 3}));
    EXPECT_EQ(st.read_all<uint8_t>("/done"), (std::vector<uint8_t>{0, 0, 1, 1, 255, 0}));
    EXPECT_EQ(st.read_all<double>("/scalar"), std::vector<double>{-7.0});
    EXPECT_EQ(st.read_all<int32_t>("/init"), (std::vector<int32_t>{1, 2, 30, 4, 5, 60}));
    EXPECT_EQ(st.read_values<int32_t>("/init", {1, 1}, {1, 2}), (std::vector<int32_t>{5, 60}));
  };
  SCOPED_TRACE("before checkpoint (overlay)");
  check(*s);
  EXPECT_GT(s->journal_bytes(), 0u);
  EXPECT_EQ(s->pending_records(), 9u - 1u);  // the empty put journals nothing
  {
    SCOPED_TRACE("read-only with journal");
    check(*Store::open_read_only(path));
  }
  s->checkpoint();
  EXPECT_EQ(s->generation(), 1u);
  EXPECT_EQ(s->journal_bytes(), 0u);
  {
    SCOPED_TRACE("after checkpoint");
    check(*s);
  }
  s->close();
  s.reset();
  {
    SCOPED_TRACE("read-only, no journal");
    auto ro = Store::open_read_only(path, false);
    EXPECT_TRUE(ro->read_only());
    check(*ro);
    EXPECT_THROW(ro->put<uint8_t>("/done", {0}, {1}, {1}), std::logic_error);
    EXPECT_THROW(ro->checkpoint(), std::logic_error);
  }
  s = Store::open(path);
  SCOPED_TRACE("reopened");
  check(*s);
  EXPECT_EQ(s->read_strings("/prompts"), layout.string_datasets[0].second);
  EXPECT_EQ(s->attribute("spec_toml"), layout.attributes.at("spec_toml"));
}

TEST(Store, BadArguments) {
  const std::string dir = scratch_dir();
  auto s = Store::create(dir + "/s.h5", every_type_layout());
  EXPECT_THROW(s->put<float>("/nope", {0}, {1}, {1.f}), std::invalid_argument);
  EXPECT_THROW(s->put<double>("/results/f32", {0, 0}, {1, 1}, {1.0}), std::invalid_argument);
  EXPECT_THROW(s->put<float>("/results/f32", {0}, {1}, {1.f}), std::invalid_argument);
  EXPECT_THROW(s->put<float>("/results/f32", {2, 3}, {2, 1}, {1.f, 2.f}), std::invalid_argument);
  EXPECT_THROW(s->put<float>("/results/f32", {0, 0}, {1, 2}, {1.f}), std::invalid_argument);
  float x = 0;
  EXPECT_THROW(s->put("/prompts", {0}, {1}, &x, 4), std::invalid_argument);
  EXPECT_THROW(s->put("/_store/generation", {0}, {1}, &x, 8), std::invalid_argument);
  EXPECT_THROW(s->read("/results/f32", {0, 0}, {1, 1}, &x, 8), std::invalid_argument);
  EXPECT_EQ(s->pending_records(), 0u);

  auto bad = [&](StoreLayout l) {
    static int n = 0;
    EXPECT_THROW(Store::create(dir + "/bad" + std::to_string(n++) + ".h5", l),
                 std::invalid_argument);
  };
  StoreLayout l;
  l.datasets.push_back({"/a", ElemType::I32, {2}, NAN, "", {}});
  bad(l);
  l.datasets = {{"/a", ElemType::U8, {2}, 256, "", {}}};
  bad(l);
  l.datasets = {{"/a/", ElemType::U8, {2}, 0, "", {}}};
  bad(l);
  l.datasets = {{"/a//b", ElemType::U8, {2}, 0, "", {}}};
  bad(l);
  l.datasets = {{"/a", ElemType::U8, {2}, 0, "", {}}, {"a", ElemType::U8, {2}, 0, "", {}}};
  bad(l);
  l.datasets = {{"/_store/x", ElemType::U8, {2}, 0, "", {}}};
  bad(l);
  l.datasets = {{"/a", ElemType::U8, {2}, 0, "", {}}, {"/a/b", ElemType::U8, {2}, 0, "", {}}};
  bad(l);
  l.datasets = {{"/a", ElemType::U8, {2}, 0, "", {1, 2, 3}}};
  bad(l);
  l.datasets = {};
  l.attributes["mgsweep_store_id"] = "x";
  bad(l);
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().rfind("bad", 0), std::string::npos) << e.path();
  }
}

TEST(Store, CreateRefusesExistingPaths) {
  const std::string dir = scratch_dir();
  const std::string path = dir + "/s.h5";
  StoreLayout l;
  l.datasets.push_back({"/x", ElemType::F64, {4}, 0, "", {}});
  Store::create(path, l)->close();
  const auto before = slurp(path);
  const auto jbefore = slurp(Store::journal_path(path));
  EXPECT_THROW(Store::create(path, l), InputError);
  EXPECT_EQ(slurp(path), before);
  EXPECT_EQ(slurp(Store::journal_path(path)), jbefore);
  // Any file at PATH, store or not.
  spit(dir + "/other", {1, 2, 3});
  EXPECT_THROW(Store::create(dir + "/other", l), InputError);
  EXPECT_EQ(slurp(dir + "/other"), (std::vector<uint8_t>{1, 2, 3}));
  // A journal without its store.
  spit(dir + "/lost.h5.journal", {4, 5});
  EXPECT_THROW(Store::create(dir + "/lost.h5", l), InputError);
  EXPECT_FALSE(Store::exists(dir + "/lost.h5"));
  // A PATH.creating left behind by a crashed create is reused.
  spit(dir + "/new.h5.creating", std::vector<uint8_t>(1000, 7));
  auto s = Store::create(dir + "/new.h5", l);
  EXPECT_FALSE(Store::exists(dir + "/new.h5.creating"));
  EXPECT_EQ(s->read_all<double>("/x"), std::vector<double>(4, 0.0));
}

TEST(Store, ResumeAfterNormalClose) {
  const std::string path = scratch_dir() + "/s.h5";
  StoreLayout l;
  l.datasets.push_back({"/v", ElemType::F64, {10}, NAN, "", {}});
  l.datasets.push_back({"/done", ElemType::U8, {10}, 0, "", {}});
  {
    auto s = Store::create(path, l);
    for (uint64_t i = 0; i < 4; ++i) {
      s->put<double>("/v", {i}, {1}, {i * 1.5});
      s->put<uint8_t>("/done", {i}, {1}, {1});
    }
    s->close();  // checkpoints
  }
  {
    auto s = Store::open(path);
    EXPECT_EQ(s->generation(), 1u);
    for (uint64_t i = 4; i < 7; ++i) {
      s->put<double>("/v", {i}, {1}, {i * 1.5});
      s->put<uint8_t>("/done", {i}, {1}, {1});
    }
    s->checkpoint();
    s->put<double>("/v", {7}, {1}, {7 * 1.5});
    s->put<uint8_t>("/done", {7}, {1}, {1});
    // Destroyed without close(): the last two records stay in the journal.
  }
  EXPECT_EQ(Store::open_read_only(path, false)->read_all<uint8_t>("/done")[7], 0);
  EXPECT_EQ(Store::open_read_only(path, true)->read_all<uint8_t>("/done")[7], 1);
  auto s = Store::open(path);  // replays them
  EXPECT_EQ(s->generation(), 3u);
  EXPECT_EQ(s->journal_bytes(), 0u);
  EXPECT_EQ(slurp(Store::journal_path(path)).size(), mg::sweep::kJournalHeaderSize);
  auto v = s->read_all<double>("/v");
  auto done = s->read_all<uint8_t>("/done");
  for (uint64_t i = 0; i < 10; ++i) {
    if (i < 8) {
      EXPECT_EQ(v[i], i * 1.5);
      EXPECT_EQ(done[i], 1);
    } else {
      EXPECT_TRUE(std::isnan(v[i]));
      EXPECT_EQ(done[i], 0);
    }
  }
  // A checkpoint with nothing pending changes nothing.
  s->checkpoint();
  EXPECT_EQ(s->generation(), 3u);
}

TEST(Store, MissingJournalIsRemade) {
  // A crash between linking PATH and making PATH.journal leaves PATH alone.
  const std::string path = scratch_dir() + "/s.h5";
  StoreLayout l;
  l.datasets.push_back({"/v", ElemType::I32, {3}, 0, "", {}});
  Store::create(path, l)->close();
  fs::remove(Store::journal_path(path));
  auto s = Store::open(path);
  s->put<int32_t>("/v", {0}, {3}, {1, 2, 3});
  s->close();
  EXPECT_EQ(Store::open_read_only(path)->read_all<int32_t>("/v"), (std::vector<int32_t>{1, 2, 3}));
  // An empty journal file holds no records: it gets its header back.
  spit(Store::journal_path(path), {});
  s = Store::open(path);
  s->put<int32_t>("/v", {1}, {1}, {5});
  s.reset();
  EXPECT_EQ(Store::open(path)->read_all<int32_t>("/v"), (std::vector<int32_t>{1, 5, 3}));
}

TEST(Store, RandomOverlappingWritesMatchAModel) {
  const std::string path = scratch_dir() + "/s.h5";
  const std::vector<uint64_t> shape{6, 5, 4};
  StoreLayout l;
  l.datasets.push_back({"/x", ElemType::I32, shape, -1, "", {}});
  auto s = Store::create(path, l);
  std::vector<int32_t> model(6 * 5 * 4, -1);
  std::mt19937_64 rng(12345);
  auto box = [&](std::vector<uint64_t>* off, std::vector<uint64_t>* cnt) {
    off->resize(3);
    cnt->resize(3);
    for (size_t d = 0; d < 3; ++d) {
      (*off)[d] = rng() % shape[d];
      (*cnt)[d] = 1 + rng() % (shape[d] - (*off)[d]);
    }
  };
  int32_t next = 0;
  for (int step = 0; step < 400; ++step) {
    std::vector<uint64_t> off, cnt;
    box(&off, &cnt);
    const int action = static_cast<int>(rng() % 10);
    if (action < 6) {
      std::vector<int32_t> v(cnt[0] * cnt[1] * cnt[2]);
      size_t k = 0;
      for (uint64_t a = 0; a < cnt[0]; ++a)
        for (uint64_t b = 0; b < cnt[1]; ++b)
          for (uint64_t c = 0; c < cnt[2]; ++c) {
            v[k++] = next;
            model[((off[0] + a) * 5 + off[1] + b) * 4 + off[2] + c] = next++;
          }
      s->put<int32_t>("/x", off, cnt, v);
    } else if (action < 9) {
      auto v = s->read_values<int32_t>("/x", off, cnt);
      size_t k = 0;
      for (uint64_t a = 0; a < cnt[0]; ++a)
        for (uint64_t b = 0; b < cnt[1]; ++b)
          for (uint64_t c = 0; c < cnt[2]; ++c) {
            ASSERT_EQ(v[k++], model[((off[0] + a) * 5 + off[1] + b) * 4 + off[2] + c])
                << "step " << step;
          }
    } else if (rng() % 3 == 0) {
      s.reset();
      s = Store::open(path);
    } else {
      s->checkpoint();
    }
  }
  EXPECT_EQ(s->read_all<int32_t>("/x"), model);
  s.reset();
  EXPECT_EQ(Store::open(path)->read_all<int32_t>("/x"), model);
}

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

// [offset, offset + size) of the raw data of every dataset in the file, via HDF5.
std::vector<std::pair<uint64_t, uint64_t>> raw_extents(const std::string& path) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  EXPECT_GE(f, 0);
  std::vector<std::string> names;
  H5Lvisit(
      f, H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t, const char* name, const H5L_info_t*, void* d) -> herr_t {
        static_cast<std::vector<std::string>*>(d)->push_back(name);
        return 0;
      },
      &names);
  for (const auto& n : names) {
    hid_t o = H5Oopen(f, n.c_str(), H5P_DEFAULT);
    if (H5Iget_type(o) == H5I_DATASET) {
      const haddr_t off = H5Dget_offset(o);
      const hsize_t size = H5Dget_storage_size(o);
      if (off != HADDR_UNDEF) out.emplace_back(off, off + size);
    }
    H5Oclose(o);
  }
  H5Fclose(f);
  return out;
}

std::vector<uint8_t> metadata_bytes(const std::vector<uint8_t>& file,
                                    const std::vector<std::pair<uint64_t, uint64_t>>& raw,
                                    bool skip_write_flag) {
  std::vector<uint8_t> out = file;
  for (const auto& [a, b] : raw) {
    for (uint64_t i = a; i < b && i < out.size(); ++i) out[i] = 0;
  }
  if (skip_write_flag) {
    for (size_t i = 20; i < 24; ++i) out[i] = 0;  // superblock v0: file consistency flags
  }
  return out;
}

}  // namespace

TEST(Store, MetadataNeverChangesAfterCreation) {
  const std::string path = scratch_dir() + "/s.h5";
  auto layout = every_type_layout();
  Store::create(path, layout)->close();
  const auto created = slurp(path);
  EXPECT_EQ(created[8], 0) << "superblock version 0 expected";
  const auto raw = raw_extents(path);
  EXPECT_GE(raw.size(), 9u);

  auto s = Store::open(path);
  for (int round = 0; round < 3; ++round) {
    for (const std::string& d : s->datasets()) {
      const auto shape = s->shape(d);
      uint64_t n = 1;
      for (auto x : shape) n *= x;
      std::vector<uint8_t> bytes(n * mg::sweep::elem_size(s->type(d)),
                                 static_cast<uint8_t>(0x11 * (round + 1)));
      s->put(d, std::vector<uint64_t>(shape.size(), 0), shape, bytes.data(), bytes.size());
    }
    s->checkpoint();
    // While the writer is open: only raw data and the write-access flag differ.
    EXPECT_EQ(metadata_bytes(slurp(path), raw, true), metadata_bytes(created, raw, true));
  }
  s->close();
  const auto after = slurp(path);
  EXPECT_EQ(after.size(), created.size());
  EXPECT_EQ(metadata_bytes(after, raw, false), metadata_bytes(created, raw, false));
  EXPECT_NE(after, created);
}

TEST(Store, ReadableWithH5pyWhileAndAfterWriting) {
  const char* py = std::getenv("MGSWEEP_PYTHON");
  if (py == nullptr ||
      std::system((std::string(py) + " -c 'import h5py' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "h5py not available (MGSWEEP_PYTHON unset or without h5py)";
  }
  const std::string path = scratch_dir() + "/s.h5";
  StoreLayout l;
  l.datasets.push_back({"/results/f32", ElemType::F32, {4, 3}, NAN, "effect per item", {}});
  l.datasets.push_back({"/results/i64", ElemType::I64, {5}, 0, "", {}});
  l.datasets.push_back({"/done", ElemType::U8, {4}, 0, "", {}});
  l.datasets.push_back({"/scalar", ElemType::F64, {}, 0, "", {}});
  l.datasets.push_back({"/i32", ElemType::I32, {2, 2}, 7, "", {}});
  l.datasets.push_back({"/i16", ElemType::I16, {3}, -2, "", {}});
  l.attributes["spec_toml"] = "[job]\nname = \"h5py\"\n" + std::string(100000, 'x');
  l.attributes["spec_hash"] = "abc123";
  l.string_datasets.push_back({"/prompts", {"Compose a happy rock piece", "ünïcødé ♪"}});
  auto s = Store::create(path, l);
  for (uint64_t r = 0; r < 2; ++r) {
    std::vector<float> row(3);
    for (uint64_t c = 0; c < 3; ++c) row[c] = static_cast<float>(r * 3 + c) + 0.5f;
    s->put<float>("/results/f32", {r, 0}, {1, 3}, row);
    s->put<uint8_t>("/done", {r}, {1}, {1});
  }
  s->put<int64_t>("/results/i64", {0}, {5}, {-7, -6, -3, 2, 9});
  s->put<double>("/scalar", {}, {}, {2.5});
  s->checkpoint();
  s->put<float>("/results/f32", {2, 0}, {1, 3}, {6.5f, 7.5f, 8.5f});  // journal only
  s->put<uint8_t>("/done", {2}, {1}, {1});
  const std::string script = std::string(MGSWEEP_TEST_DATA) + "/sweep/store_h5py_check.py";
  const std::string cmd = std::string(py) + " " + script + " " + path + " ";
  EXPECT_EQ(std::system((cmd + "writing").c_str()), 0);
  s->close();
  EXPECT_EQ(std::system((cmd + "closed").c_str()), 0);
}
