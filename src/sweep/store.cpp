#include "sweep/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <stdexcept>
#include <system_error>

#include "musicgen/errors.h"
#include "sweep/h5.h"
#include "sweep/h5_types.h"
#include "sweep/journal.h"

namespace mg::sweep {

namespace store_testing {
namespace {
CrashHook g_crash_hook = nullptr;
}
void set_crash_hook(CrashHook hook) { g_crash_hook = hook; }
}  // namespace store_testing

namespace {

using store_testing::CrashPoint;

void crash_point(CrashPoint p, uint64_t arg = 0) {
  if (store_testing::g_crash_hook != nullptr) store_testing::g_crash_hook(p, arg);
}

constexpr const char* kFormatAttr = "mgsweep_store_format";
constexpr const char* kIdAttr = "mgsweep_store_id";
constexpr const char* kNoteAttr = "mgsweep_store_note";
constexpr const char* kFormat = "1";
constexpr const char* kReservedAttrPrefix = "mgsweep_store_";
constexpr const char* kInternalGroup = "/_store";
constexpr const char* kGenerationPath = "/_store/generation";
constexpr const char* kNote =
    "Written by mgsweep. Results reach this file at checkpoints; PATH.journal beside it may "
    "hold newer ones (mgsweep applies them when the run resumes). /_store/generation counts "
    "the checkpoints.";

std::string shape_str(const std::vector<uint64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

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

std::string lookup_path(const std::string& p) { return (!p.empty() && p[0] == '/') ? p : "/" + p; }

[[noreturn]] void throw_h5(const std::string& path, const std::string& what) {
  const std::string detail = h5::last_error();
  throw std::runtime_error(path + ": " + what + (detail.empty() ? "" : ": " + detail));
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

h5::Id vlen_utf8() {
  h5::Id t = h5::datatype(H5Tcopy(H5T_C_S1));
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
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

// Reads a string attribute (variable or fixed length); false if it is not a string.
bool read_string_attr(hid_t attr, std::string* out) {
  h5::Id type = h5::datatype(H5Aget_type(attr));
  if (!type.valid() || H5Tget_class(type) != H5T_STRING) return false;
  h5::Id space = h5::dataspace(H5Aget_space(attr));
  if (H5Sget_simple_extent_npoints(space) != 1) return false;
  if (H5Tis_variable_str(type) > 0) {
    h5::Id mem = vlen_utf8();
    char* p = nullptr;
    if (H5Aread(attr, mem, &p) < 0) return false;
    *out = p != nullptr ? p : "";
    H5free_memory(p);
    return true;
  }
  const size_t n = H5Tget_size(type);
  std::vector<char> buf(n + 1, 0);
  h5::Id mem = h5::datatype(H5Tcopy(H5T_C_S1));
  H5Tset_size(mem, n + 1);
  H5Tset_cset(mem, H5Tget_cset(type));
  if (H5Aread(attr, mem, buf.data()) < 0) return false;
  *out = std::string(buf.data());
  return true;
}

// Copies the part of the record's hyperslab that lies inside the read hyperslab.
void overlay(const JournalRecord& rec, const std::vector<uint64_t>& roff,
             const std::vector<uint64_t>& rcnt, size_t esz, uint8_t* out) {
  const size_t rank = roff.size();
  if (rank == 0) {
    std::memcpy(out, rec.payload.data(), esz);
    return;
  }
  std::vector<uint64_t> lo(rank), hi(rank);
  for (size_t d = 0; d < rank; ++d) {
    lo[d] = std::max(roff[d], rec.offset[d]);
    hi[d] = std::min(roff[d] + rcnt[d], rec.offset[d] + rec.count[d]);
    if (lo[d] >= hi[d]) return;
  }
  std::vector<uint64_t> rstride(rank, 1), wstride(rank, 1);
  for (size_t d = rank - 1; d > 0; --d) {
    rstride[d - 1] = rstride[d] * rcnt[d];
    wstride[d - 1] = wstride[d] * rec.count[d];
  }
  const size_t run = static_cast<size_t>(hi[rank - 1] - lo[rank - 1]) * esz;
  std::vector<uint64_t> idx(lo);
  while (true) {
    uint64_t src = 0, dst = 0;
    for (size_t d = 0; d < rank; ++d) {
      src += (idx[d] - rec.offset[d]) * wstride[d];
      dst += (idx[d] - roff[d]) * rstride[d];
    }
    std::memcpy(out + dst * esz, rec.payload.data() + src * esz, run);
    // Next row: odometer over every dimension but the last.
    size_t d = rank - 1;
    while (d > 0) {
      --d;
      if (++idx[d] < hi[d]) break;
      idx[d] = lo[d];
      if (d == 0) return;
    }
    if (rank == 1) return;
  }
}

struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

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

// ---------------------------------------------------------------------------------------

struct Store::Impl {
  struct Dataset {
    h5::Id id;
    bool is_string = false;
    ElemType type = ElemType::U8;
    std::vector<uint64_t> shape;
    std::string doc;
  };
  struct Pending {
    const Dataset* ds;
    JournalRecord rec;
  };

  std::string path;
  bool writable = false;
  h5::Id file;
  StoreId id{};
  uint64_t generation = 0;
  std::map<std::string, std::string> attributes;  // every root attribute
  std::map<std::string, Dataset> datasets;        // every dataset, internal ones included
  std::unique_ptr<JournalFile> journal;
  std::vector<Pending> pending;
  std::vector<uint8_t> scratch;
  bool broken = false;
  bool closed = false;

  std::string journal_path() const { return Store::journal_path(path); }

  [[noreturn]] void corrupt(const std::string& detail) const {
    throw InputError(path, "", "not a readable mgsweep store (corrupt?): " + detail,
                     "it was left untouched; move it away to start over");
  }

  // Opens PATH and reads everything but the raw data; InputError if it is not a store.
  void load(bool rdwr);
  void load_journal_records(const JournalScan& scan, bool strict);
  void write_record(const Pending& p);
  void flush_and_sync();
  int h5_fd();
  const Dataset& numeric(const std::string& name, const char* what) const;
  void check_slab(const std::string& name, const Dataset& d, const Index& offset,
                  const Index& count, size_t nbytes) const;
  void release();
};

void Store::Impl::load(bool rdwr) {
  h5::Quiet quiet;
  datasets.clear();
  file.reset();
  h5::Id fapl = h5::store_fapl();
  file = h5::file(H5Fopen(path.c_str(), rdwr ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl));
  if (!file.valid()) {
    const std::string err = h5::last_error();
    corrupt("HDF5 cannot open it" + (err.empty() ? std::string() : ": " + err));
  }
  // Root attributes.
  attributes.clear();
  auto on_attr = [](hid_t loc, const char* name, const H5A_info_t*, void* data) -> herr_t {
    h5::Id attr = h5::attribute(H5Aopen(loc, name, H5P_DEFAULT));
    std::string value;
    if (attr.valid() && read_string_attr(attr, &value)) {
      (*static_cast<std::map<std::string, std::string>*>(data))[name] = value;
    }
    return 0;
  };
  hsize_t attr_idx = 0;
  if (H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, &attr_idx, on_attr, &attributes) < 0) {
    corrupt("cannot read its root attributes: " + h5::last_error());
  }
  auto fmt = attributes.find(kFormatAttr);
  if (fmt == attributes.end()) {
    corrupt(std::string("it has no ") + kFormatAttr + " attribute (an HDF5 file, not a store)");
  }
  if (fmt->second != kFormat) {
    throw InputError(
        path, kFormatAttr,
        "store format " + fmt->second + " is not one this mgsweep reads (" + kFormat + ")",
        "use the mgsweep version that wrote it");
  }
  auto idattr = attributes.find(kIdAttr);
  if (idattr == attributes.end() || !from_hex(idattr->second, &id)) {
    corrupt(std::string("attribute ") + kIdAttr + " is missing or malformed");
  }

  // Every dataset.
  std::vector<std::string> names;
  auto visit = [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
    if (info->type == H5L_TYPE_HARD) static_cast<std::vector<std::string>*>(data)->push_back(name);
    return 0;
  };
  if (H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, visit, &names) < 0) {
    corrupt("cannot list its objects: " + h5::last_error());
  }
  for (const std::string& rel : names) {
    const std::string name = "/" + rel;
    h5::Id obj = h5::object(H5Oopen(file, name.c_str(), H5P_DEFAULT));
    if (!obj.valid()) corrupt("cannot open " + name + ": " + h5::last_error());
    if (H5Iget_type(obj) != H5I_DATASET) continue;
    Dataset d;
    d.id = h5::dataset(H5Dopen2(file, name.c_str(), H5P_DEFAULT));
    if (!d.id.valid()) corrupt("cannot open dataset " + name + ": " + h5::last_error());
    h5::Id space = h5::dataspace(H5Dget_space(d.id));
    const int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0) corrupt("cannot read the shape of " + name);
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    if (rank > 0) H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    d.shape.assign(dims.begin(), dims.end());
    h5::Id type = h5::datatype(H5Dget_type(d.id));
    const H5T_class_t cls = H5Tget_class(type);
    const size_t size = H5Tget_size(type);
    if (cls == H5T_STRING) {
      d.is_string = true;
    } else if (cls == H5T_FLOAT && size == 4) {
      d.type = ElemType::F32;
    } else if (cls == H5T_FLOAT && size == 8) {
      d.type = ElemType::F64;
    } else if (cls == H5T_INTEGER) {
      const bool sign = H5Tget_sign(type) == H5T_SGN_2;
      if (sign && size == 8) {
        d.type = ElemType::I64;
      } else if (sign && size == 4) {
        d.type = ElemType::I32;
      } else if (sign && size == 2) {
        d.type = ElemType::I16;
      } else if (!sign && size == 1) {
        d.type = ElemType::U8;
      } else {
        corrupt(name + ": an integer type the store does not write");
      }
    } else {
      corrupt(name + ": an element type the store does not write");
    }
    // Writes must never touch metadata: only contiguous, allocated storage qualifies.
    h5::Id dcpl = h5::plist(H5Dget_create_plist(d.id));
    if (H5Pget_layout(dcpl) != H5D_CONTIGUOUS && !d.is_string) {
      corrupt(name + ": not contiguous storage (a store's datasets are)");
    }
    if (!d.is_string && element_count(d.shape) > 0) {
      H5D_space_status_t status{};
      if (H5Dget_space_status(d.id, &status) < 0 || status != H5D_SPACE_STATUS_ALLOCATED) {
        corrupt(name + ": storage not allocated");
      }
    }
    if (H5Aexists(d.id, "doc") > 0) {
      h5::Id a = h5::attribute(H5Aopen(d.id, "doc", H5P_DEFAULT));
      if (a.valid()) read_string_attr(a, &d.doc);
    }
    datasets.emplace(name, std::move(d));
  }
  auto gen = datasets.find(kGenerationPath);
  if (gen == datasets.end() || gen->second.is_string || gen->second.type != ElemType::I64 ||
      gen->second.shape != std::vector<uint64_t>{1}) {
    corrupt(std::string(kGenerationPath) + " is missing or malformed");
  }
  int64_t g = 0;
  if (H5Dread(gen->second.id, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &g) < 0 || g < 0) {
    corrupt(std::string("cannot read ") + kGenerationPath + ": " + h5::last_error());
  }
  generation = static_cast<uint64_t>(g);
}

void Store::Impl::load_journal_records(const JournalScan& scan, bool strict) {
  const std::string jpath = journal_path();
  const std::string fix =
      "move it away to resume from the last checkpoint (its records since then are lost)";
  if (!scan.header_ok) {
    throw InputError(jpath, "header", "not a journal of this store: " + scan.header_problem, fix);
  }
  if (scan.store_id != id) {
    throw InputError(jpath, "store id",
                     "the journal belongs to store " + to_hex(scan.store_id) + ", but " + path +
                         " is store " + to_hex(id),
                     fix);
  }
  pending.clear();
  size_t i = 0;
  for (const JournalRecord& r : scan.records) {
    auto it = datasets.find(r.dataset);
    const Dataset* d = it == datasets.end() ? nullptr : &it->second;
    std::string problem;
    if (d == nullptr || d->is_string || r.dataset.rfind(kInternalGroup, 0) == 0) {
      problem = "names dataset " + r.dataset + ", which the store does not have";
    } else if (r.offset.size() != d->shape.size()) {
      problem = "has rank " + std::to_string(r.offset.size()) + " for " + r.dataset;
    } else {
      uint64_t n = 1;
      for (size_t k = 0; k < d->shape.size(); ++k) {
        if (r.offset[k] > d->shape[k] || r.count[k] > d->shape[k] - r.offset[k]) {
          problem = "lies outside " + r.dataset;
        }
        n *= r.count[k];
      }
      if (problem.empty() && n * elem_size(d->type) != r.payload.size()) {
        problem = "has a payload of the wrong size for " + r.dataset;
      }
    }
    if (!problem.empty()) {
      if (strict) throw InputError(jpath, "record " + std::to_string(i), problem, fix);
      break;
    }
    pending.push_back(Pending{d, r});
    ++i;
  }
}

int Store::Impl::h5_fd() {
  h5::Id fapl = h5::plist(H5Fget_access_plist(file));
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file, fapl, &handle) < 0 || handle == nullptr) {
    throw_h5(path, "cannot get the file descriptor");
  }
  return *static_cast<int*>(handle);
}

void Store::Impl::flush_and_sync() {
  if (H5Fflush(file, H5F_SCOPE_LOCAL) < 0) throw_h5(path, "H5Fflush failed");
  if (::fsync(h5_fd()) != 0) {
    throw std::system_error(errno, std::generic_category(), path + ": fsync failed");
  }
}

void Store::Impl::write_record(const Pending& p) {
  const JournalRecord& r = p.rec;
  const ElemType t = p.ds->type;
  if (r.offset.empty()) {
    if (H5Dwrite(p.ds->id, mem_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, r.payload.data()) < 0) {
      throw_h5(path, "cannot write " + r.dataset);
    }
    return;
  }
  const std::vector<hsize_t> off(r.offset.begin(), r.offset.end());
  const std::vector<hsize_t> cnt(r.count.begin(), r.count.end());
  h5::Id fspace = h5::dataspace(H5Dget_space(p.ds->id));
  h5::Id mspace =
      h5::dataspace(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr));
  if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr) < 0 ||
      H5Dwrite(p.ds->id, mem_type(t), mspace, fspace, H5P_DEFAULT, r.payload.data()) < 0) {
    throw_h5(path, "cannot write " + r.dataset);
  }
}

const Store::Impl::Dataset& Store::Impl::numeric(const std::string& name, const char* what) const {
  const std::string key = lookup_path(name);
  auto it = datasets.find(key);
  if (it == datasets.end() || key.rfind(std::string(kInternalGroup) + "/", 0) == 0) {
    throw std::invalid_argument(path + ": " + what + ": no dataset " + key);
  }
  if (it->second.is_string) {
    throw std::invalid_argument(path + ": " + what + ": " + key + " holds strings");
  }
  return it->second;
}

void Store::Impl::check_slab(const std::string& name, const Dataset& d, const Index& offset,
                             const Index& count, size_t nbytes) const {
  if (offset.size() != d.shape.size() || count.size() != d.shape.size()) {
    throw std::invalid_argument(path + ": " + name + ": rank " + std::to_string(offset.size()) +
                                "/" + std::to_string(count.size()) + " for a dataset of shape " +
                                shape_str(d.shape));
  }
  uint64_t n = 1;
  for (size_t k = 0; k < d.shape.size(); ++k) {
    if (offset[k] > d.shape[k] || count[k] > d.shape[k] - offset[k]) {
      throw std::invalid_argument(path + ": " + name + ": offset " + shape_str(offset) + " count " +
                                  shape_str(count) + " outside shape " + shape_str(d.shape));
    }
    n *= count[k];
  }
  if (n * elem_size(d.type) != nbytes) {
    throw std::invalid_argument(path + ": " + name + ": " + std::to_string(nbytes) + " bytes for " +
                                std::to_string(n) + " " + elem_type_name(d.type) + " elements");
  }
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

  const StoreId id = random_store_id();
  try {
    h5::Quiet quiet;
    h5::Id fapl = h5::store_fapl();
    h5::Id file = h5::file(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl));
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
    ::unlink(tmp.c_str());
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
  JournalFile::create(jpath, id);
  return open(path);
}

std::unique_ptr<Store> Store::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->writable = true;
  if (!exists(path)) {
    throw InputError(path, "", "no such store", "check the path, or create the store first");
  }
  impl->load(false);  // validate read-only first: a bad file is never opened for writing
  const std::string jpath = impl->journal_path();
  if (!exists(jpath)) JournalFile::create(jpath, impl->id);  // a crash right after creation
  impl->journal = std::make_unique<JournalFile>(jpath, true);
  if (!impl->journal->try_lock()) {
    throw InputError(path, "",
                     "another process has this store open for writing (" + jpath + " is locked)",
                     "wait for that run to end or stop it; read-only commands work meanwhile");
  }
  std::vector<uint8_t> bytes = impl->journal->read_all();
  if (bytes.empty()) {  // an empty file holds no records: give it its header
    bytes = encode_journal_header(impl->id);
    impl->journal->append(bytes.data(), bytes.size());
    impl->journal->sync();
  }
  JournalScan scan = scan_journal(bytes.data(), bytes.size(), impl->generation);
  impl->load_journal_records(scan, true);

  impl->load(true);
  // The Pending records point into the dataset map that load() rebuilt.
  for (auto& p : impl->pending) p.ds = &impl->datasets.at(p.rec.dataset);
  impl->journal->set_end(scan.valid_end);
  std::unique_ptr<Store> store(new Store(std::move(impl)));
  if (!store->impl_->pending.empty()) {
    store->checkpoint();  // replay
  } else if (scan.size > kJournalHeaderSize) {
    store->impl_->journal->truncate_to_header();  // a torn or stale tail
  }
  return store;
}

std::unique_ptr<Store> Store::open_read_only(const std::string& path, bool include_journal) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->writable = false;
  if (!exists(path)) {
    throw InputError(path, "", "no such store", "check the path");
  }
  impl->load(false);
  const std::string jpath = impl->journal_path();
  if (include_journal && exists(jpath)) {
    std::vector<uint8_t> bytes;
    try {
      JournalFile j(jpath, false);
      bytes = j.read_all();
    } catch (const std::system_error&) {
      // Unreadable journal (permissions): show the checkpointed state.
    }
    if (!bytes.empty()) {
      JournalScan scan = scan_journal(bytes.data(), bytes.size(), impl->generation);
      impl->load_journal_records(scan, false);
    }
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
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

std::vector<std::string> Store::read_strings(const std::string& dataset) const {
  h5::Quiet quiet;
  const std::string key = lookup_path(dataset);
  auto it = impl_->datasets.find(key);
  if (it == impl_->datasets.end() || !it->second.is_string) {
    throw std::invalid_argument(impl_->path + ": read_strings: no string dataset " + key);
  }
  const Impl::Dataset& d = it->second;
  const uint64_t n = element_count(d.shape);
  std::vector<std::string> out;
  if (n == 0) return out;
  h5::Id type = h5::datatype(H5Dget_type(d.id));
  if (H5Tis_variable_str(type) > 0) {
    h5::Id mem = vlen_utf8();
    std::vector<char*> ptrs(n, nullptr);
    if (H5Dread(d.id, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0) {
      throw_h5(impl_->path, "cannot read " + key);
    }
    for (char* p : ptrs) out.emplace_back(p != nullptr ? p : "");
    h5::Id space = h5::dataspace(H5Dget_space(d.id));
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem, space, H5P_DEFAULT, ptrs.data());
#else
    H5Dvlen_reclaim(mem, space, H5P_DEFAULT, ptrs.data());
#endif
  } else {
    const size_t sz = H5Tget_size(type);
    h5::Id mem = h5::datatype(H5Tcopy(type));
    std::vector<char> buf(n * sz);
    if (H5Dread(d.id, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0) {
      throw_h5(impl_->path, "cannot read " + key);
    }
    for (uint64_t i = 0; i < n; ++i) {
      const char* p = buf.data() + i * sz;
      out.emplace_back(p, strnlen(p, sz));
    }
  }
  return out;
}

void Store::check_type(const std::string& dataset, ElemType expected) const {
  const ElemType t = impl_->numeric(dataset, "type check").type;
  if (t != expected) {
    throw std::invalid_argument(impl_->path + ": " + lookup_path(dataset) + " holds " +
                                elem_type_name(t) + ", not " + elem_type_name(expected));
  }
}

void Store::put(const std::string& dataset, const Index& offset, const Index& count,
                const void* data, size_t nbytes) {
  Impl& s = *impl_;
  if (!s.writable || s.closed)
    throw std::logic_error(s.path + ": put on a store not open for writing");
  if (s.broken) {
    throw std::logic_error(s.path + ": a checkpoint failed; open the store again to recover");
  }
  const Impl::Dataset& d = s.numeric(dataset, "put");
  s.check_slab(lookup_path(dataset), d, offset, count, nbytes);
  if (nbytes == 0 && !offset.empty()) return;
  Impl::Pending p{&d, JournalRecord{}};
  p.rec.dataset = lookup_path(dataset);
  p.rec.generation = s.generation;
  p.rec.offset = offset;
  p.rec.count = count;
  const auto* bytes = static_cast<const uint8_t*>(data);
  p.rec.payload.assign(bytes, bytes + nbytes);
  s.scratch.clear();
  encode_journal_record(p.rec, &s.scratch);
  s.journal->append(s.scratch.data(), s.scratch.size());
  s.pending.push_back(std::move(p));
  crash_point(CrashPoint::kPutAppended, s.pending.size());
}

void Store::read(const std::string& dataset, const Index& offset, const Index& count, void* out,
                 size_t nbytes) const {
  const Impl& s = *impl_;
  if (s.closed) throw std::logic_error(s.path + ": read on a closed store");
  h5::Quiet quiet;
  const std::string key = lookup_path(dataset);
  const Impl::Dataset& d = s.numeric(dataset, "read");
  s.check_slab(key, d, offset, count, nbytes);
  if (nbytes == 0) return;
  if (offset.empty()) {
    if (H5Dread(d.id, mem_type(d.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
      throw_h5(s.path, "cannot read " + key);
    }
  } else {
    const std::vector<hsize_t> off(offset.begin(), offset.end());
    const std::vector<hsize_t> cnt(count.begin(), count.end());
    h5::Id fspace = h5::dataspace(H5Dget_space(d.id));
    h5::Id mspace =
        h5::dataspace(H5Screate_simple(static_cast<int>(cnt.size()), cnt.data(), nullptr));
    if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, off.data(), nullptr, cnt.data(), nullptr) < 0 ||
        H5Dread(d.id, mem_type(d.type), mspace, fspace, H5P_DEFAULT, out) < 0) {
      throw_h5(s.path, "cannot read " + key);
    }
  }
  const size_t esz = elem_size(d.type);
  for (const Impl::Pending& p : s.pending) {
    if (p.ds == &d) overlay(p.rec, offset, count, esz, static_cast<uint8_t*>(out));
  }
}

void Store::checkpoint() {
  Impl& s = *impl_;
  if (!s.writable || s.closed) {
    throw std::logic_error(s.path + ": checkpoint on a store not open for writing");
  }
  if (s.broken) {
    throw std::logic_error(s.path + ": a checkpoint failed; open the store again to recover");
  }
  if (s.pending.empty()) return;
  h5::Quiet quiet;
  s.broken = true;  // until this checkpoint completes
  s.journal->sync();
  crash_point(CrashPoint::kCheckpointJournalSynced);
  for (size_t i = 0; i < s.pending.size(); ++i) {
    s.write_record(s.pending[i]);
    crash_point(CrashPoint::kCheckpointRecordApplied, i);
  }
  s.flush_and_sync();
  crash_point(CrashPoint::kCheckpointDataSynced);
  const int64_t next = static_cast<int64_t>(s.generation + 1);
  if (H5Dwrite(s.datasets.at(kGenerationPath).id, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
               &next) < 0) {
    throw_h5(s.path, std::string("cannot write ") + kGenerationPath);
  }
  s.flush_and_sync();
  s.generation += 1;
  crash_point(CrashPoint::kCheckpointCommitted);
  s.journal->truncate_to_header();
  s.pending.clear();
  s.broken = false;
  crash_point(CrashPoint::kCheckpointDone);
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
