// Tests of the crash-safe HDF5 store (src/sweep/store.h) as an HDF5 file: its metadata never
// changes after creation (only raw data is written), and h5py reads it while and after a writer
// has it open.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "store_test_util.h"
#include "sweep/store.h"

using mg::sweep::ElemType;
using mg::sweep::Store;
using mg::sweep::StoreLayout;
using mgtest::every_type_layout;
using mgtest::scratch_dir;
using mgtest::slurp;

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
    // h5py is how researchers read the store: its absence is a failure, not a pass.
    const char* allow = std::getenv("MGSWEEP_ALLOW_SKIP");
    if (allow && std::string(allow) == "1")
      GTEST_SKIP() << "h5py not available (MGSWEEP_ALLOW_SKIP=1)";
    FAIL() << "h5py not available (MGSWEEP_PYTHON=" << (py ? py : "unset")
           << "): install it with .venv/bin/pip install -r tests/requirements-diff.txt";
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
