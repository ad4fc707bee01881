// Helpers shared by the tests of the crash-safe HDF5 store (store_test.cpp,
// store_recovery_test.cpp, store_hdf5_test.cpp): a fresh scratch folder per test, whole-file
// reads and writes, and a layout with every element type, attribute and string dataset.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sweep/store.h"

namespace mgtest {

namespace fs = std::filesystem;
using mg::sweep::ElemType;
using mg::sweep::StoreLayout;

inline std::string scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "store" /
                 (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

inline std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
}

inline void spit(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

inline StoreLayout every_type_layout() {
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

}  // namespace mgtest
