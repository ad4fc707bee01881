// The store (store.h): element types, the helpers that store_impl.h declares, the crash
// test's hook, a Store's lifetime (construction, close, destruction) and its metadata
// queries. Creation, opening, I/O and checkpoints are in the store_*.cpp beside it.
#include "sweep/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <system_error>

#include "musicgen/errors.h"
#include "sweep/h5.h"
#include "sweep/store_impl.h"

namespace mg::sweep {

namespace store_testing {
namespace {
CrashHook g_crash_hook = nullptr;
}
void set_crash_hook(CrashHook hook) { g_crash_hook = hook; }
}  // namespace store_testing

namespace store_detail {

void crash_point(CrashPoint p, uint64_t arg) {
  if (store_testing::g_crash_hook != nullptr) store_testing::g_crash_hook(p, arg);
}

std::string shape_str(const std::vector<uint64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

std::string lookup_path(const std::string& p) { return (!p.empty() && p[0] == '/') ? p : "/" + p; }

[[noreturn]] void throw_h5(const std::string& path, const std::string& what) {
  // One line: HDF5's descriptions can hold newlines (its write errors do, after the time).
  std::string detail = h5::last_error();
  for (char& c : detail) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  throw std::runtime_error(path + ": " + what + (detail.empty() ? "" : ": " + detail));
}

uint64_t element_count(const std::vector<uint64_t>& shape) {
  uint64_t n = 1;
  for (uint64_t s : shape) {
    if (s != 0 && n > std::numeric_limits<uint64_t>::max() / s) {
      throw std::invalid_argument("store: shape " + shape_str(shape) + " is too large");
    }
    n *= s;
  }
  return n;
}

std::string human_bytes(uint64_t bytes) {
  char buf[48];
  const double b = static_cast<double>(bytes);
  if (bytes < 10 * 1024) {
    std::snprintf(buf, sizeof(buf), "%llu bytes", static_cast<unsigned long long>(bytes));
  } else if (bytes < 10ull * 1024 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.0f KiB", b / 1024);
  } else if (bytes < 10ull * 1024 * 1024 * 1024) {
    std::snprintf(buf, sizeof(buf), "%.0f MiB", b / (1024 * 1024));
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f GiB", b / (1024.0 * 1024 * 1024));
  }
  return buf;
}

bool is_access_errno(int err) { return err == EACCES || err == EPERM || err == EROFS; }

bool is_space_errno(int err) { return err == ENOSPC || err == EDQUOT; }

InputError access_error(const std::string& file, int err, bool for_writing) {
  const std::string mode = for_writing ? "writing" : "reading";
  return InputError(file, "",
                    "permission denied opening it for " + mode + " (" + std::strerror(err) + ")",
                    "nothing is damaged and nothing was changed: give this user " +
                        std::string(for_writing ? "read and write" : "read") +
                        " access to the store, its journal and their folder (chmod, chattr -i, "
                        "or a read-write mount), then run the same command again");
}

void check_openable(const std::string& file, bool for_writing) {
  const int fd = ::open(file.c_str(), (for_writing ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    return;
  }
  const int err = errno;
  if (is_access_errno(err)) throw access_error(file, err, for_writing);
  if (err == ENOENT) throw InputError(file, "", "no such store", "check the path");
  throw std::system_error(err, std::generic_category(), file + ": cannot open it");
}

std::runtime_error space_error(const std::string& file, const std::string& doing, uint64_t need) {
  return std::runtime_error(
      file + ": no space left on the device (" + doing +
      (need > 0 ? ", " + human_bytes(need) : std::string()) +
      "): nothing checkpointed is lost and the journal keeps every complete record; free "
      "space on that file system (or move the store and its .journal to a bigger one and "
      "pass --store) and run the same command to resume");
}

h5::Id vlen_utf8() {
  h5::Id t = h5::datatype(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

}  // namespace store_detail

using namespace store_detail;

size_t elem_size(ElemType t) {
  switch (t) {
    case ElemType::F32:
      return 4;
    case ElemType::F64:
      return 8;
    case ElemType::I64:
      return 8;
    case ElemType::I32:
      return 4;
    case ElemType::I16:
      return 2;
    case ElemType::U8:
      return 1;
  }
  return 0;
}

const char* elem_type_name(ElemType t) {
  switch (t) {
    case ElemType::F32:
      return "float32";
    case ElemType::F64:
      return "float64";
    case ElemType::I64:
      return "int64";
    case ElemType::I32:
      return "int32";
    case ElemType::I16:
      return "int16";
    case ElemType::U8:
      return "uint8";
  }
  return "?";
}

void Store::Impl::release() {
  pending.clear();
  journal.reset();
  datasets.clear();
  file.reset();
  closed = true;
}

// ---------------------------------------------------------------------------------------

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() {
  if (impl_) {
    h5::Quiet quiet;
    impl_->release();
  }
}

bool Store::exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

const std::string& Store::path() const { return impl_->path; }
bool Store::read_only() const { return !impl_->writable; }
std::string Store::store_id() const { return to_hex(impl_->id); }
uint64_t Store::generation() const { return impl_->generation; }

std::string Store::attribute(const std::string& name) const {
  auto it = impl_->attributes.find(name);
  if (it == impl_->attributes.end()) {
    throw InputError(impl_->path, "attribute " + name, "missing",
                     "the store was made by another mgsweep version or for another purpose");
  }
  return it->second;
}

bool Store::has_attribute(const std::string& name) const {
  return impl_->attributes.count(name) > 0;
}

std::map<std::string, std::string> Store::attributes() const {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : impl_->attributes) {
    if (k.rfind(kReservedAttrPrefix, 0) != 0) out.emplace(k, v);
  }
  return out;
}

std::vector<std::string> Store::datasets() const {
  std::vector<std::string> out;
  for (const auto& [name, d] : impl_->datasets) {
    if (!d.is_string && name.rfind(std::string(kInternalGroup) + "/", 0) != 0) {
      out.push_back(name);
    }
  }
  return out;
}

std::vector<std::string> Store::string_datasets() const {
  std::vector<std::string> out;
  for (const auto& [name, d] : impl_->datasets) {
    if (d.is_string) out.push_back(name);
  }
  return out;
}

bool Store::has_dataset(const std::string& dataset) const {
  const std::string key = lookup_path(dataset);
  return impl_->datasets.count(key) > 0 && key.rfind(std::string(kInternalGroup) + "/", 0) != 0;
}

std::vector<uint64_t> Store::shape(const std::string& dataset) const {
  const std::string key = lookup_path(dataset);
  auto it = impl_->datasets.find(key);
  if (it == impl_->datasets.end() || !has_dataset(key)) {
    throw std::invalid_argument(impl_->path + ": shape: no dataset " + key);
  }
  return it->second.shape;
}

ElemType Store::type(const std::string& dataset) const {
  return impl_->numeric(dataset, "type").type;
}

std::string Store::doc(const std::string& dataset) const {
  const std::string key = lookup_path(dataset);
  if (!has_dataset(key)) throw std::invalid_argument(impl_->path + ": doc: no dataset " + key);
  return impl_->datasets.at(key).doc;
}

uint64_t Store::journal_bytes() const {
  if (!impl_->journal || !impl_->writable) {
    uint64_t n = 0;
    for (const auto& p : impl_->pending) {
      n += journal_record_size(p.rec.dataset, p.rec.offset.size(), p.rec.payload.size());
    }
    return n;
  }
  return impl_->journal->end() - kJournalHeaderSize;
}

size_t Store::pending_records() const { return impl_->pending.size(); }

void Store::close() {
  Impl& s = *impl_;
  if (s.closed) return;
  if (s.writable && !s.broken) checkpoint();
  h5::Quiet quiet;
  s.datasets.clear();
  const bool ok = s.file.close();
  s.release();
  if (!ok) throw_h5(s.path, "H5Fclose failed");
}

}  // namespace mg::sweep
