// Store::checkpoint (store.h): sync the journal, apply its records to PATH, fsync, commit
// generation+1, truncate the journal.
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include "sweep/h5.h"
#include "sweep/h5_types.h"
#include "sweep/journal.h"
#include "sweep/store.h"
#include "sweep/store_impl.h"

namespace mg::sweep {

using namespace store_detail;

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

}  // namespace mg::sweep
