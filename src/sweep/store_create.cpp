// Store::create (store.h): the layout check, then PATH.creating built with every dataset,
// fsynced and linked to PATH, and PATH.journal made.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <system_error>

#include "musicgen/errors.h"
#include "sweep/h5.h"
#include "sweep/h5_types.h"
#include "sweep/journal.h"
#include "sweep/store.h"
#include "sweep/store_impl.h"

namespace mg::sweep {

using namespace store_detail;

namespace {

// "/a/b" from "a/b" or "/a/b"; empty when the path is not a valid dataset path.
std::string normalize_path(const std::string& p) {
  std::string s = (!p.empty() && p[0] == '/') ? p : "/" + p;
  if (s.size() < 2 || s.back() == '/') return "";
  size_t start = 1;
  while (start <= s.size()) {
    const size_t end = std::min(s.find('/', start), s.size());
    const std::string part = s.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return "";
    start = end + 1;
  }
  return s;
}

// The fill value as the element type's bytes (native order).
std::vector<uint8_t> fill_bytes(const DatasetSpec& d) {
  std::vector<uint8_t> out(elem_size(d.type));
  const double f = d.fill;
  auto check_int = [&](double lo, double hi) {
    if (!std::isfinite(f) || f != std::floor(f) || f < lo || f > hi) {
      throw std::invalid_argument("store layout: " + d.path + ": fill value " + std::to_string(f) +
                                  " does not fit " + elem_type_name(d.type));
    }
  };
  switch (d.type) {
    case ElemType::F32: {
      const float v = static_cast<float>(f);
      std::memcpy(out.data(), &v, 4);
      break;
    }
    case ElemType::F64:
      std::memcpy(out.data(), &f, 8);
      break;
    case ElemType::I64: {
      check_int(-9.2233720368547758e18, 9.2233720368547748e18);
      const int64_t v = static_cast<int64_t>(f);
      std::memcpy(out.data(), &v, 8);
      break;
    }
    case ElemType::I32: {
      check_int(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
      const int32_t v = static_cast<int32_t>(f);
      std::memcpy(out.data(), &v, 4);
      break;
    }
    case ElemType::I16: {
      check_int(std::numeric_limits<int16_t>::min(), std::numeric_limits<int16_t>::max());
      const int16_t v = static_cast<int16_t>(f);
      std::memcpy(out.data(), &v, 2);
      break;
    }
    case ElemType::U8: {
      check_int(0, 255);
      out[0] = static_cast<uint8_t>(f);
      break;
    }
  }
  return out;
}

void write_string_attr(hid_t obj, const std::string& name, const std::string& value,
                       const std::string& where) {
  h5::Id type = vlen_utf8();
  h5::Id space = h5::dataspace(H5Screate(H5S_SCALAR));
  h5::Id attr = h5::attribute(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!attr.valid()) throw_h5(where, "cannot create attribute " + name);
  const char* p = value.c_str();
  if (H5Awrite(attr, type, &p) < 0) throw_h5(where, "cannot write attribute " + name);
}

// Roughly the bytes PATH takes: every dataset is allocated in full at creation; strings,
// attributes and HDF5's object headers on top (an overestimate of a few kB per object).
uint64_t estimated_file_size(
    const std::vector<DatasetSpec>& specs,
    const std::vector<std::pair<std::string, const std::vector<std::string>*>>& strings,
    const std::map<std::string, std::string>& attributes) {
  uint64_t n = 8192;  // superblock, root group, /_store
  for (const DatasetSpec& d : specs)
    n += element_count(d.shape) * elem_size(d.type) + 1024 + d.doc.size();
  for (const auto& [p, values] : strings) {
    n += 1024;
    for (const std::string& v : *values) n += v.size() + 32;
  }
  for (const auto& [k, v] : attributes) n += k.size() + v.size() + 64;
  return n;
}

// Free bytes for this user in the folder of `path`; UINT64_MAX when unknown.
uint64_t free_space(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  struct statvfs v {};
  if (::statvfs(dir.c_str(), &v) != 0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
}

[[noreturn]] void throw_no_space(const std::string& path, uint64_t need) {
  const uint64_t avail = free_space(path);
  throw std::runtime_error(
      path + ": not enough space to create the store: it needs about " + human_bytes(need) + " (" +
      std::to_string(need) + " bytes; every dataset is allocated in full at creation)" +
      (avail != std::numeric_limits<uint64_t>::max()
           ? ", and its file system has " + human_bytes(avail) + " free"
           : std::string()) +
      "; nothing was written and no result is lost (free space, or pass --store a path on a "
      "bigger file system, then run the same command again)");
}

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::unique_ptr<Store> Store::create(const std::string& path, const StoreLayout& layout) {
  // Check the layout before touching the disk.
  std::vector<DatasetSpec> specs = layout.datasets;
  std::set<std::string> seen;
  std::vector<std::vector<uint8_t>> fills;
  for (DatasetSpec& d : specs) {
    const std::string norm = normalize_path(d.path);
    if (norm.empty()) {
      throw std::invalid_argument("store layout: bad dataset path '" + d.path + "'");
    }
    if (norm == kInternalGroup || norm.rfind(std::string(kInternalGroup) + "/", 0) == 0) {
      throw std::invalid_argument("store layout: " + norm + " is reserved for the store");
    }
    if (!seen.insert(norm).second) {
      throw std::invalid_argument("store layout: dataset " + norm + " given twice");
    }
    if (d.shape.size() > kJournalMaxRank) {
      throw std::invalid_argument("store layout: " + norm + ": rank above 32");
    }
    d.path = norm;
    fills.push_back(fill_bytes(d));
    if (!d.initial.empty() && d.initial.size() != element_count(d.shape) * elem_size(d.type)) {
      throw std::invalid_argument("store layout: " + norm + ": initial data of " +
                                  std::to_string(d.initial.size()) + " bytes for shape " +
                                  shape_str(d.shape) + " of " + elem_type_name(d.type));
    }
  }
  std::vector<std::pair<std::string, const std::vector<std::string>*>> strings;
  for (const auto& [p, values] : layout.string_datasets) {
    const std::string norm = normalize_path(p);
    if (norm.empty() || norm.rfind(kInternalGroup, 0) == 0 || !seen.insert(norm).second) {
      throw std::invalid_argument("store layout: bad or repeated string dataset path '" + p + "'");
    }
    strings.emplace_back(norm, &values);
  }
  for (const std::string& p : seen) {  // "/a" cannot be a dataset and the group of "/a/b"
    auto next = seen.upper_bound(p + "/");
    if (seen.count(p + "/") || (next != seen.end() && next->rfind(p + "/", 0) == 0)) {
      throw std::invalid_argument("store layout: " + p + " is a dataset and a group");
    }
  }
  for (const auto& [name, value] : layout.attributes) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." ||
        name.rfind(kReservedAttrPrefix, 0) == 0) {
      throw std::invalid_argument("store layout: bad or reserved attribute name '" + name + "'");
    }
    if (value.find('\0') != std::string::npos) {
      throw std::invalid_argument("store layout: attribute " + name + " contains a NUL byte");
    }
  }
  for (const auto& [p, values] : strings) {
    for (const std::string& s : *values) {
      if (s.find('\0') != std::string::npos) {
        throw std::invalid_argument("store layout: " + p + ": a string contains a NUL byte");
      }
    }
  }

  const std::string jpath = journal_path(path);
  if (exists(path)) {
    throw InputError(path, "", "a store already exists here",
                     "resume it, or move it away to start over");
  }
  if (exists(jpath)) {
    throw InputError(jpath, "", "a journal exists but its store " + path + " does not",
                     "move the journal away: the store it belongs to is gone");
  }

  // PATH.creating, locked while we build it (a crashed create leaves it behind unlocked; the
  // next create reuses it).
  const std::string tmp = path + ".creating";
  FdCloser lock;
  lock.fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock.fd < 0) {
    throw InputError(path, "", std::string("cannot create the store: ") + std::strerror(errno),
                     "check that its directory exists and is writable");
  }
  if (::flock(lock.fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    throw InputError(path, "", "another process is creating this store", "wait for it, or stop it");
  }

  // Fail early, and clearly, when the file cannot fit: HDF5 writes the fill values at
  // creation and would fail part-way.
  const uint64_t need = estimated_file_size(specs, strings, layout.attributes);
  if (free_space(tmp) < need) {
    ::unlink(tmp.c_str());
    throw_no_space(path, need);
  }

  const StoreId id = random_store_id();
  h5::Quiet quiet;
  h5::Id file;  // outside the try: the error path must close it itself, see below
  try {
    h5::Id fapl = h5::store_fapl();
    file = h5::file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
    if (!file.valid()) throw_h5(tmp, "cannot create the HDF5 file");

    h5::Id gcpl = h5::plist(H5Pcreate(H5P_GROUP_CREATE));
    H5Pset_obj_track_times(gcpl, false);
    std::set<std::string> groups;
    auto make_groups = [&](const std::string& p) {
      for (size_t slash = p.find('/', 1); slash != std::string::npos;
           slash = p.find('/', slash + 1)) {
        const std::string g = p.substr(0, slash);
        if (!groups.insert(g).second) continue;
        h5::Id gid = h5::group(H5Gcreate2(file, g.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT));
        if (!gid.valid()) throw_h5(tmp, "cannot create group " + g);
      }
    };
    auto make_dataset = [&](const std::string& p, hid_t ftype, hid_t mtype,
                            const std::vector<uint64_t>& shape, const void* fill) {
      make_groups(p);
      const std::vector<hsize_t> dims(shape.begin(), shape.end());
      h5::Id space = h5::dataspace(
          dims.empty() ? H5Screate(H5S_SCALAR)
                       : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
      h5::Id dcpl = h5::plist(H5Pcreate(H5P_DATASET_CREATE));
      H5Pset_layout(dcpl, H5D_CONTIGUOUS);
      H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
      H5Pset_obj_track_times(dcpl, false);
      if (fill != nullptr) {
        H5Pset_fill_value(dcpl, mtype, fill);
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC);
      }
      h5::Id ds =
          h5::dataset(H5Dcreate2(file, p.c_str(), ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
      if (!ds.valid()) throw_h5(tmp, "cannot create dataset " + p);
      return ds;
    };

    for (size_t i = 0; i < specs.size(); ++i) {
      const DatasetSpec& d = specs[i];
      h5::Id ds =
          make_dataset(d.path, file_type(d.type), mem_type(d.type), d.shape, fills[i].data());
      if (!d.initial.empty() && element_count(d.shape) > 0 &&
          H5Dwrite(ds, mem_type(d.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, d.initial.data()) < 0) {
        throw_h5(tmp, "cannot write the initial data of " + d.path);
      }
      if (!d.doc.empty()) write_string_attr(ds, "doc", d.doc, tmp);
    }
    for (const auto& [p, values] : strings) {
      h5::Id type = vlen_utf8();
      h5::Id ds = make_dataset(p, type, type, {values->size()}, nullptr);
      std::vector<const char*> ptrs;
      for (const std::string& s : *values) ptrs.push_back(s.c_str());
      if (!ptrs.empty() && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0) {
        throw_h5(tmp, "cannot write " + p);
      }
    }
    {
      const int64_t zero = 0;
      h5::Id ds = make_dataset(kGenerationPath, H5T_STD_I64LE, H5T_NATIVE_INT64, {1}, &zero);
      write_string_attr(ds, "doc",
                        "Checkpoints made so far. PATH.journal records of this generation are "
                        "newer than this file.",
                        tmp);
    }
    for (const auto& [name, value] : layout.attributes) {
      write_string_attr(file, name, value, tmp);
    }
    write_string_attr(file, kFormatAttr, kFormat, tmp);
    write_string_attr(file, kIdAttr, to_hex(id), tmp);
    write_string_attr(file, kNoteAttr, kNote, tmp);
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0) throw_h5(tmp, "H5Fflush failed");
    if (!file.close()) throw_h5(tmp, "H5Fclose failed");
    if (::fsync(lock.fd) != 0) {
      throw std::system_error(errno, std::generic_category(), tmp + ": fsync failed");
    }
  } catch (...) {
    // Every object of the file is closed by now (their Ids lived in the try block); the file
    // is still open with metadata HDF5 could not write. Cut the file to nothing (lock.fd is
    // the same inode), so that the flush at H5Fclose finds space for the little it writes,
    // and close it here: an HDF5 file left open makes the library crash in its atexit
    // cleanup (H5F__close_cb).
    const int err = errno;
    std::string what;
    try {
      throw;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    if (::ftruncate(lock.fd, 0) != 0) {
      // Then the close below may fail too; the file is unlinked either way.
    }
    file.close();
    ::unlink(tmp.c_str());
    // HDF5 reports the write's errno in its message ("errno = 28"): errno itself may have
    // been overwritten by the cleanup on the way here.
    if (is_space_errno(err) || what.find("No space left") != std::string::npos ||
        what.find("errno = 28,") != std::string::npos ||
        what.find("errno = 122,") != std::string::npos) {
      throw_no_space(path, need);
    }
    throw;
  }
  crash_point(CrashPoint::kCreateFileBuilt);

  // PATH appears complete or not at all; link() never replaces a PATH made meanwhile.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST) {
      ::unlink(tmp.c_str());
      throw InputError(path, "", "a store already exists here",
                       "resume it, or move it away to start over");
    }
    if (err != EPERM && err != ENOTSUP && err != EOPNOTSUPP && err != ENOSYS) {
      ::unlink(tmp.c_str());
      throw std::system_error(err, std::generic_category(), path + ": cannot link " + tmp);
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {  // no hard links here
      throw std::system_error(errno, std::generic_category(), path + ": cannot rename " + tmp);
    }
  }
  ::unlink(tmp.c_str());
  fsync_parent_dir(path);
  crash_point(CrashPoint::kCreateLinked);
  try {
    JournalFile::create(jpath, id);
  } catch (const std::system_error& e) {
    // PATH is complete: a later open() makes the journal.
    if (is_space_errno(e.code().value())) {
      throw space_error(jpath, "making the journal", kJournalHeaderSize);
    }
    if (is_access_errno(e.code().value())) throw access_error(jpath, e.code().value(), true);
    throw;
  }
  return open(path);
}

}  // namespace mg::sweep
