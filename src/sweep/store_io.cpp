// A Store's reads and writes (store.h): put() journals a record and keeps it pending;
// read() reads PATH and lays the pending records over it; read_strings(); the checks of a
// dataset name, type and hyperslab.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "sweep/h5.h"
#include "sweep/h5_types.h"
#include "sweep/journal.h"
#include "sweep/store.h"
#include "sweep/store_impl.h"

namespace mg::sweep {

using namespace store_detail;

namespace {

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

}  // namespace

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
  try {
    s.journal->append(s.scratch.data(), s.scratch.size());  // cuts a partial record off again
  } catch (const std::system_error& e) {
    if (!is_space_errno(e.code().value())) throw;
    throw space_error(s.journal_path(), "journaling a record for " + p.rec.dataset,
                      s.scratch.size());
  }
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

}  // namespace mg::sweep
