// Thin RAII helpers around the HDF5 C API (hid_t), used by the store. Plain C++17 + HDF5:
// nothing here needs LibTorch.
#pragma once

#include <hdf5.h>

#include <string>
#include <utility>

namespace mg::sweep::h5 {

// Owns one hid_t and closes it with the matching H5?close when it goes out of scope.
class Id {
 public:
  using Closer = herr_t (*)(hid_t);
  Id() = default;
  Id(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  Id(Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Id& operator=(Id&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  ~Id() { reset(); }

  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // NOLINT: an Id is passed where the C API takes hid_t
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_ != nullptr) closer_(id_);
    id_ = H5I_INVALID_HID;
  }
  // Closes now and reports whether H5?close succeeded (H5Fclose can fail on a flush).
  bool close() {
    const bool ok = id_ < 0 || closer_ == nullptr || closer_(id_) >= 0;
    id_ = H5I_INVALID_HID;
    return ok;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

inline Id file(hid_t id) { return Id(id, H5Fclose); }
inline Id group(hid_t id) { return Id(id, H5Gclose); }
inline Id dataset(hid_t id) { return Id(id, H5Dclose); }
inline Id dataspace(hid_t id) { return Id(id, H5Sclose); }
inline Id datatype(hid_t id) { return Id(id, H5Tclose); }
inline Id plist(hid_t id) { return Id(id, H5Pclose); }
inline Id attribute(hid_t id) { return Id(id, H5Aclose); }
inline Id object(hid_t id) { return Id(id, H5Oclose); }

// While alive, HDF5 does not print its error stack to stderr (errors are turned into
// exceptions with last_error() instead). Restores the previous handler when destroyed.
class Quiet {
 public:
  Quiet();
  ~Quiet();
  Quiet(const Quiet&) = delete;
  Quiet& operator=(const Quiet&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// The innermost and outermost descriptions on HDF5's default error stack, e.g.
// "truncated file: eof = 1024, sblock->base_addr = 0, stored_eof = 4096 (in H5Fopen: unable
// to open file)"; "" when the stack is empty. Clears the stack.
std::string last_error();

// A file-access property list for the store: no HDF5 file locking (a reader must never be
// locked out by the writer, nor the writer by a reader; the store's journal carries the
// single-writer lock instead) and the oldest file format that holds the store (superblock
// version 0: see store.h for why not "latest").
Id store_fapl();

}  // namespace mg::sweep::h5
