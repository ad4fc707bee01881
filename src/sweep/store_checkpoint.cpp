// Store::checkpoint (store.h): sync the journal, apply its value records to PATH, fsync, then
// its completion-flag records, fsync, commit generation+1, truncate the journal.
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
  errno = 0;
  if (H5Fflush(file, H5F_SCOPE_LOCAL) < 0) {
    // (Datasets are allocated at creation, so only copy-on-write file systems get here.)
    if (is_space_errno(errno)) throw space_error(path, "writing a checkpoint", 0);
    throw_h5(path, "H5Fflush failed");
  }
  if (::fsync(h5_fd()) != 0) {
    if (is_space_errno(errno)) throw space_error(path, "syncing a checkpoint", 0);
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

bool store_detail::is_completion_flag(const std::string& dataset) {
  static const std::string kSuffix = "/done";
  return dataset.size() >= kSuffix.size() &&
         dataset.compare(dataset.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0;
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
  try {
    s.journal->sync();
  } catch (const std::system_error& e) {
    if (!is_space_errno(e.code().value())) throw;
    throw space_error(s.journal_path(), "syncing the journal", 0);
  }
  crash_point(CrashPoint::kCheckpointJournalSynced);
  // Values first, durable, and only then the flags that say they are there: HDF5 may write
  // its buffers out in any order within one flush (the sieve buffer of a small /done dataset
  // can reach the file before a big value dataset's), and a reader of PATH without the
  // journal (h5py during a run, or after a kill) must never see done = 1 over fill values.
  for (bool flags : {false, true}) {
    for (size_t i = 0; i < s.pending.size(); ++i) {
      if (is_completion_flag(s.pending[i].rec.dataset) != flags) continue;
      s.write_record(s.pending[i]);
      crash_point(CrashPoint::kCheckpointRecordApplied, i);
    }
    s.flush_and_sync();
    crash_point(flags ? CrashPoint::kCheckpointDataSynced : CrashPoint::kCheckpointValuesSynced);
  }
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
