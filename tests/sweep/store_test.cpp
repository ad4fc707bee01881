// Tests of the crash-safe HDF5 store (src/sweep/store.h) and its journal: round trips,
// bad arguments, creation over existing paths, resume, a missing journal and random overlapping
// writes. Torn, stale and foreign journals, corrupt files and the single-writer lock are in
// store_recovery_test.cpp; HDF5 metadata and reading with h5py in store_hdf5_test.cpp.
#include "sweep/store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "musicgen/errors.h"
#include "store_test_util.h"
#include "sweep/journal.h"

namespace fs = std::filesystem;
using mg::InputError;
using mg::sweep::DatasetSpec;
using mg::sweep::ElemType;
using mg::sweep::Store;
using mg::sweep::StoreLayout;
using mgtest::as_bytes;
using mgtest::every_type_layout;
using mgtest::scratch_dir;
using mgtest::slurp;
using mgtest::spit;

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
