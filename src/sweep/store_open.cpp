// Store::open (resume) and Store::open_read_only (store.h): Impl::load reads and checks
// PATH (attributes, store id, every dataset, the generation); Impl::load_journal_records
// checks the journal's records against it, and a resume replays them.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "musicgen/errors.h"
#include "sweep/h5.h"
#include "sweep/journal.h"
#include "sweep/store.h"
#include "sweep/store_impl.h"

namespace mg::sweep {

using namespace store_detail;

namespace {

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

}  // namespace

std::string store_detail::dropped_records_warning(const std::string& jpath, const JournalScan& scan,
                                                  bool resume) {
  if (scan.dropped.empty()) return "";
  // Per dataset, in the order first met: the offsets (items) of its dropped records.
  std::vector<std::pair<std::string, std::vector<std::string>>> by_dataset;
  std::map<std::string, size_t> index;
  for (const JournalRecord& r : scan.dropped) {
    auto it = index.emplace(r.dataset, by_dataset.size()).first;
    if (it->second == by_dataset.size()) by_dataset.push_back({r.dataset, {}});
    by_dataset[it->second].second.push_back(shape_str(r.offset));
  }
  constexpr size_t kShown = 6;
  std::string list;
  for (const auto& [name, offsets] : by_dataset) {
    list += (list.empty() ? "" : "; ") + name + " at";
    for (size_t i = 0; i < offsets.size() && i < kShown; ++i) list += " " + offsets[i];
    if (offsets.size() > kShown)
      list += " and " + std::to_string(offsets.size() - kShown) + " more";
  }
  const size_t n = scan.dropped.size();
  return jpath + ": the record at byte " + std::to_string(scan.valid_end) + " is damaged (" +
         scan.damage + "), and the " + std::to_string(n) + " valid record" + (n == 1 ? "" : "s") +
         " after it " + (n == 1 ? "is" : "are") + " dropped" +
         (resume ? ": their results will be recomputed: "
                 : " (not shown here; a resume recomputes their results): ") +
         printable(list, 2000);
}

void Store::Impl::load(bool rdwr) {
  h5::Quiet quiet;
  datasets.clear();
  file.reset();
  // A permission problem is not corruption: say which it is before HDF5 hides the errno.
  check_openable(path, rdwr);
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
      // One dataset, one name: with a second hard link, a journal record (which names one of
      // them) would show under that name only in a read-only open, but change both on replay.
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t oinfo{};
    const herr_t oerr = H5Oget_info3(d.id, &oinfo, H5O_INFO_BASIC);
#else
    H5O_info_t oinfo{};
    const herr_t oerr = H5Oget_info2(d.id, &oinfo, H5O_INFO_BASIC);
#endif
    if (oerr < 0 || oinfo.rc != 1) corrupt(name + ": a dataset with more than one name");
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

std::unique_ptr<Store> Store::open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->writable = true;
  if (!exists(path)) {
    throw InputError(path, "", "no such store", "check the path, or create the store first");
  }
  impl->load(false);           // validate read-only first: a bad file is never opened for writing
  check_openable(path, true);  // before the journal is touched
  const std::string jpath = impl->journal_path();
  try {
    if (!exists(jpath)) JournalFile::create(jpath, impl->id);  // a crash right after creation
    impl->journal = std::make_unique<JournalFile>(jpath, true);
  } catch (const std::system_error& e) {
    if (is_access_errno(e.code().value())) throw access_error(jpath, e.code().value(), true);
    if (is_space_errno(e.code().value())) {
      throw space_error(jpath, "making the journal", kJournalHeaderSize);
    }
    throw;
  }
  if (!impl->journal->try_lock()) {
    throw InputError(path, "",
                     "another process has this store open for writing (" + jpath + " is locked)",
                     "wait for that run to end or stop it; read-only commands work meanwhile");
  }
  std::vector<uint8_t> bytes = impl->journal->read_all();
  if (bytes.empty()) {  // an empty file holds no records: give it its header
    bytes = encode_journal_header(impl->id);
    try {
      impl->journal->append(bytes.data(), bytes.size());
      impl->journal->sync();
    } catch (const std::system_error& e) {
      if (!is_space_errno(e.code().value())) throw;
      throw space_error(jpath, "writing the journal's header", bytes.size());
    }
  }
  JournalScan scan = scan_journal(bytes.data(), bytes.size(), impl->generation);
  impl->load_journal_records(scan, true);
  // The resume below truncates the journal: say now what the damage cost.
  const std::string warning = dropped_records_warning(jpath, scan, true);
  if (!warning.empty()) std::fprintf(stderr, "mgsweep: warning: %s\n", warning.c_str());

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
    } catch (const std::system_error& e) {
      // Unreadable journal (permissions): show the checkpointed state, and say so.
      std::fprintf(
          stderr,
          "mgsweep: warning: %s: cannot read it (%s): showing %s as of its last checkpoint\n",
          jpath.c_str(), e.code().message().c_str(), path.c_str());
    }
    if (!bytes.empty()) {
      JournalScan scan = scan_journal(bytes.data(), bytes.size(), impl->generation);
      impl->load_journal_records(scan, false);
      const std::string warning = dropped_records_warning(jpath, scan, false);
      if (!warning.empty()) std::fprintf(stderr, "mgsweep: warning: %s\n", warning.c_str());
    }
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

}  // namespace mg::sweep
