// Internal to the store (src/sweep/store*.cpp), NOT public API: struct Store::Impl (the
// open store's state) and the helpers and file-format names that the store's source files
// share. Include store.h, not this, everywhere else.
//   store.cpp             element types, shared helpers, the crash hook, lifetime, metadata
//   store_create.cpp      Store::create: the layout check and building PATH.creating
//   store_open.cpp        Store::open / open_read_only: load, validation, journal replay
//   store_io.cpp          put, read, read_strings (pending records laid over the file)
//   store_checkpoint.cpp  Store::checkpoint: applying the journal to PATH, the commit
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "musicgen/errors.h"
#include "sweep/h5.h"
#include "sweep/journal.h"
#include "sweep/store.h"

namespace mg::sweep {

namespace store_detail {

using store_testing::CrashPoint;

// Calls the crash test's hook, if one is set (store_testing::set_crash_hook).
void crash_point(CrashPoint p, uint64_t arg = 0);

inline constexpr const char* kFormatAttr = "mgsweep_store_format";
inline constexpr const char* kIdAttr = "mgsweep_store_id";
inline constexpr const char* kNoteAttr = "mgsweep_store_note";
inline constexpr const char* kFormat = "1";
inline constexpr const char* kReservedAttrPrefix = "mgsweep_store_";
inline constexpr const char* kInternalGroup = "/_store";
inline constexpr const char* kGenerationPath = "/_store/generation";
inline constexpr const char* kNote =
    "Written by mgsweep. Results reach this file at checkpoints; PATH.journal beside it may "
    "hold newer ones (mgsweep applies them when the run resumes). /_store/generation counts "
    "the checkpoints.";

std::string shape_str(const std::vector<uint64_t>& s);
// "/a/b" from "a/b" or "/a/b" (no check: see normalize_path in store_create.cpp).
std::string lookup_path(const std::string& p);
// std::runtime_error "PATH: WHAT: HDF5's last error".
[[noreturn]] void throw_h5(const std::string& path, const std::string& what);
// prod(shape); std::invalid_argument when it overflows.
uint64_t element_count(const std::vector<uint64_t>& shape);
// "512 bytes", "37 KiB", "12 MiB", "3 GiB".
std::string human_bytes(uint64_t bytes);
// errno values that mean "not allowed" (EACCES, EPERM, EROFS): the file is not damaged, and
// the message must say so, never "corrupt? move it away" (that advice deletes good results).
bool is_access_errno(int err);
// errno values that mean "the file system is full" (ENOSPC, EDQUOT).
bool is_space_errno(int err);
// The error for a store file (PATH or PATH.journal) that cannot be opened for err, one of
// is_access_errno: "FILE: permission denied opening it for writing (...) (what to do)".
InputError access_error(const std::string& file, int err, bool for_writing);
// Opens FILE as the store would (read-only, or for writing) and closes it again, so that a
// permission problem is reported as one before HDF5 turns it into "cannot open the file":
// access_error, InputError "no such store" for ENOENT, std::system_error otherwise.
void check_openable(const std::string& file, bool for_writing);
// The one-line error for a full file system while writing FILE (need: bytes that were to be
// written, 0 if unknown; doing: what was being written).
std::runtime_error space_error(const std::string& file, const std::string& doing, uint64_t need);
// Whether a dataset holds completion flags (its name ends in "/done"): checkpoint() makes
// every other record durable before it writes these.
bool is_completion_flag(const std::string& dataset);
// One line saying which valid records a damaged journal record hides (JournalScan::dropped)
// and that they are not applied; "" when none. resume: a writer's open (they will be
// recomputed), else a read-only open (not shown).
std::string dropped_records_warning(const std::string& jpath, const JournalScan& scan, bool resume);
// Variable-length UTF-8 string type.
h5::Id vlen_utf8();

}  // namespace store_detail

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

}  // namespace mg::sweep
