// Editing a store in place of a run: add or overwrite datasets and attributes in a copy of
// the store, then put the copy in its place atomically (rescore, migrate).
//
// The copy is a byte copy of the store; objects are made the way Store::create makes them
// (contiguous, allocated at creation, fill value written, no time stamps), so the result is
// still a store that `mgsweep run` resumes and status/report/h5py read. The caller holds the
// store's writer lock (Store::open) for the whole edit, so no run writes it meanwhile.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sweep/h5.h"
#include "sweep/store.h"

namespace mg::sweep {

// fsync a file, or a folder (where the file system can).
void fsync_path(const std::string& path, bool directory);

// The store's copy, opened with the HDF5 C API.
class StoreEdit {
 public:
  explicit StoreEdit(const std::string& path);

  // Whether the absolute path `p` names an object.
  bool exists(const std::string& p) const;
  void remove(const std::string& p);
  // Makes `p` and its parents as groups where missing.
  void group(const std::string& p);
  // A new dataset (made as Store::create makes its own).
  void dataset(const std::string& p, ElemType t, const std::vector<uint64_t>& shape, double fill,
               const std::string& doc);
  // An existing dataset of the copy, to overwrite values of (its shape and type as stored).
  void open_dataset(const std::string& p);
  // Writes the hyperslab [offset, offset + count) of a dataset made or opened above.
  void write(const std::string& p, const std::vector<uint64_t>& offset,
             const std::vector<uint64_t>& count, const void* data);
  void write_all(const std::string& p, const void* data);
  // A variable-length UTF-8 string attribute of object `obj` ("/" for the root), replaced.
  void attribute(const std::string& obj, const std::string& name, const std::string& value);
  // Flushes, closes and fsyncs the file.
  void close_and_sync();

 private:
  struct Made {
    h5::Id id;
    ElemType type = ElemType::F32;
    std::vector<uint64_t> shape;
  };
  void attribute(hid_t obj, const std::string& name, const std::string& value);
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  h5::Id file_;
  std::map<std::string, Made> datasets_;
};

// Copies `store` to `store + suffix`, lets `edit` change the copy, closes and fsyncs it and
// renames it over `store` (then fsyncs the folder): `store` is the old file or the complete
// new one, never a half-written one. Any error before the rename removes the copy and leaves
// `store` as it was. Needs as much free disk as the store.
void edit_store_copy(const std::string& store, const std::string& suffix,
                     const std::function<void(StoreEdit&)>& edit);

}  // namespace mg::sweep
