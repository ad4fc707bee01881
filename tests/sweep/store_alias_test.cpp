// Tests that the store (src/sweep/store.h) refuses a file in which one dataset has two names
// (a second hard link): a journal record names one of them, so a read-only open would show it
// under that name only while a resume's replay changed the object behind both
// (tests/fuzz/regressions/fuzz_store_open/hard_link_alias).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "musicgen/errors.h"
#include "sweep/store.h"

namespace fs = std::filesystem;
using mg::InputError;
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

// A second name, `alias`, for the dataset `target` of the (closed) store at `path`.
void add_hard_link(const std::string& path, const char* target, const char* alias) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  EXPECT_GE(H5Lcreate_hard(f, target, f, alias, H5P_DEFAULT, H5P_DEFAULT), 0);
  EXPECT_GE(H5Fclose(f), 0);
}

void expect_refused(const std::string& path) {
  const auto bytes = slurp(path);
  const auto journal = slurp(Store::journal_path(path));
  for (int ro = 0; ro < 2; ++ro) {
    try {
      if (ro) {
        Store::open_read_only(path);
      } else {
        Store::open(path);
      }
      ADD_FAILURE() << (ro ? "open_read_only" : "open") << " accepted a dataset with two names";
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("more than one name"), std::string::npos) << what;
      EXPECT_NE(what.find("not a readable mgsweep store"), std::string::npos) << what;
    }
    EXPECT_EQ(slurp(path), bytes) << (ro ? "open_read_only" : "open") << " changed the file";
    EXPECT_EQ(slurp(Store::journal_path(path)), journal)
        << (ro ? "open_read_only" : "open") << " changed the journal";
  }
}

StoreLayout layout() {
  StoreLayout l;
  l.datasets.push_back({"/results/x", ElemType::F32, {4}, 0, "", {}});
  l.datasets.push_back({"/results/y", ElemType::I64, {2, 2}, 0, "", {}});
  return l;
}

}  // namespace

TEST(StoreAlias, DatasetWithTwoNamesIsRefused) {
  const std::string path = scratch_dir() + "/s.h5";
  {
    auto s = Store::create(path, layout());
    s->put<float>("/results/x", {0}, {2}, {1.f, 2.f});
    s->close();  // checkpointed: the journal holds its header only
  }
  Store::open_read_only(path);  // a good store before the link
  add_hard_link(path, "/results/x", "/results/x_alias");
  expect_refused(path);
}

TEST(StoreAlias, DatasetWithTwoNamesIsRefusedWithPendingRecords) {
  const std::string dir = scratch_dir();
  const std::string path = dir + "/s.h5";
  {
    auto s = Store::create(path, layout());
    s->put<int64_t>("/results/y", {0, 0}, {1, 2}, {5, 6});
  }  // no checkpoint: the record stays in the journal, for a resume to replay
  // The second name in another group, and for the dataset the journal record names.
  add_hard_link(path, "/results/y", "/y_alias");
  expect_refused(path);
}

TEST(StoreAlias, SoftLinkIsNotASecondName) {
  // A soft link is not a hard link: the dataset keeps one name (H5Lvisit skips soft links).
  const std::string path = scratch_dir() + "/s.h5";
  Store::create(path, layout())->close();
  {
    hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    EXPECT_GE(H5Lcreate_soft("/results/x", f, "/soft_x", H5P_DEFAULT, H5P_DEFAULT), 0);
    EXPECT_GE(H5Fclose(f), 0);
  }
  EXPECT_EQ(Store::open_read_only(path)->datasets(),
            (std::vector<std::string>{"/results/x", "/results/y"}));
}
