// The sweep's HDF5 store: one file per job, one writer (the coordinator), readable with
// h5py while and after a run, and safe against a kill -9 at any instant.
//
// Files (PATH is the store):
//   PATH            the HDF5 file. Every dataset is allocated at creation (contiguous,
//                   allocation time "early", fill value written, no object time stamps), so
//                   after creation HDF5 never changes its metadata: later writes only
//                   overwrite raw data in place, and a kill in the middle of one cannot make
//                   the file unopenable. The file uses the oldest HDF5 format (superblock
//                   version 0): the only metadata bytes a read-write open touches are the
//                   superblock's 4-byte "open for writing" flag, which has no checksum and
//                   which HDF5 does not enforce on version 0. (With libver "latest", a killed
//                   writer leaves the file refusing every open, h5py's included, until
//                   h5clear runs: this is why the store does not use it.)
//   PATH.journal    the write-ahead journal (journal.h): put() appends a record to it and
//                   keeps it in memory; nothing reaches PATH before a checkpoint.
//   PATH.creating   where create() builds the file before linking it to PATH (atomic: PATH
//                   appears complete or not at all). A crashed create leaves it behind; the
//                   next create reuses it.
//
// checkpoint():
//   1. fdatasync the journal: its records are now durable;
//   2. apply them to PATH (H5Dwrite into hyperslabs) in two phases, each ending with H5Fflush
//      and fsync of PATH: first every record whose dataset is not a completion flag (its name
//      does not end in "/done"), in put() order; then the completion-flag records, in put()
//      order. So PATH read without the journal (h5py during a run, or after a kill) never
//      shows done = 1 for an item whose values are still the fill: within one flush HDF5
//      writes its buffers out in an order of its own;
//   3. write generation+1 into /_store/generation, H5Fflush, fsync PATH: the commit;
//   4. truncate the journal back to its header.
// Records carry the generation they were written in, and the journal replays only records of
// the store's current generation: a kill after step 3 (before 4) therefore does not replay
// old records, and stale bytes that a file system might show after a truncation (power loss)
// can never be taken for records. A kill anywhere in 2 leaves PATH with part of the
// records applied (flags only for items whose values are durable); the journal still holds them all
// and open() applies them again (writes are absolute, so replaying is idempotent).
//
// open() (resume): opens PATH read-only and checks it (schema attribute, store id, every
// dataset); a file that is not a readable store is reported with mg::InputError and left
// untouched. Then it takes the single-writer lock (flock on PATH.journal; HDF5's own file
// locking is off, so h5py and `mgsweep status` are never locked out), checks the journal
// belongs to this store (a random 128-bit id made at creation, root attribute
// mgsweep_store_id, and in the journal header), and replays every complete, CRC-valid record
// of the current generation as a checkpoint; a torn tail is dropped. A damaged record with
// valid records of the current generation after it (damage in the middle, not a torn tail)
// ends the replay just the same, and one "mgsweep: warning:" line on stderr says how many
// records that drops and which datasets and items they held (a read-only open says it too).
//
// Errors name the file, in one line: a store file or folder without permission (EACCES,
// EPERM, EROFS) is an InputError "permission denied opening it for writing", never "corrupt";
// a full file system while journaling, checkpointing or creating is a std::runtime_error
// saying what needed how much space, that nothing checkpointed is lost, and to run the same
// command again once there is space. create() checks the free space against the layout's
// size first, and after an HDF5 failure closes the half-built file itself (an HDF5 file left
// open crashes the library's exit-time cleanup).
//
// Reads: a writer's read() sees its own un-checkpointed put()s (the records kept in memory
// are laid over what PATH holds). A read-only Store sees PATH as of its opening plus the
// journal's valid records as of its opening (include_journal = true), i.e. what a resume
// would see; it is a snapshot: open it again to see more.
//
// Strings (attributes, string datasets) are variable-length UTF-8: h5py reads attributes as
// str, string datasets as bytes (or str with .asstr()). No size limit on an attribute.
//
// Limits: one writer per store (a second open() fails with InputError while the first is
// alive); not thread-safe; datasets cannot be added after creation. In one process, do not
// open the store with plain H5Fopen and default properties while a Store has it open (HDF5
// refuses to open one file twice with different locking settings); other processes may.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace mg::sweep {

enum class ElemType { F32, F64, I64, I32, I16, U8 };

size_t elem_size(ElemType t);
const char* elem_type_name(ElemType t);  // "float32", ..., "uint8" (as numpy says)

template <class T>
constexpr ElemType elem_type_of();
template <>
constexpr ElemType elem_type_of<float>() {
  return ElemType::F32;
}
template <>
constexpr ElemType elem_type_of<double>() {
  return ElemType::F64;
}
template <>
constexpr ElemType elem_type_of<int64_t>() {
  return ElemType::I64;
}
template <>
constexpr ElemType elem_type_of<int32_t>() {
  return ElemType::I32;
}
template <>
constexpr ElemType elem_type_of<int16_t>() {
  return ElemType::I16;
}
template <>
constexpr ElemType elem_type_of<uint8_t>() {
  return ElemType::U8;
}

struct DatasetSpec {
  std::string path;  // "/results/effect" ("results/effect" works too); groups are made
  ElemType type = ElemType::F32;
  std::vector<uint64_t> shape;   // empty: a scalar
  double fill = 0;               // NaN allowed for float types
  std::string doc;               // stored as the dataset's "doc" attribute when not empty
  std::vector<uint8_t> initial;  // optional: the whole dataset, row-major, native byte order
};

struct StoreLayout {
  std::vector<DatasetSpec> datasets;
  std::map<std::string, std::string> attributes;  // root string attributes (UTF-8)
  // 1-D datasets of variable-length UTF-8 strings, written at creation (e.g. prompts).
  std::vector<std::pair<std::string, std::vector<std::string>>> string_datasets;
};

class Store {
 public:
  using Index = std::vector<uint64_t>;

  // Builds PATH.creating with every dataset, fsyncs it, links it to PATH, fsyncs the
  // directory, makes PATH.journal and returns the store open for writing. InputError if
  // PATH (or a stray PATH.journal) exists, or another process is creating PATH;
  // std::invalid_argument for a bad layout.
  static std::unique_ptr<Store> create(const std::string& path, const StoreLayout& layout);
  // Opens for writing (resume): see above. InputError if PATH is missing, not a readable
  // mgsweep store, its journal is another store's or corrupt, or another writer has it.
  static std::unique_ptr<Store> open(const std::string& path);
  // For status/report/export while a run writes, or after.
  static std::unique_ptr<Store> open_read_only(const std::string& path,
                                               bool include_journal = true);
  static bool exists(const std::string& path);
  static std::string journal_path(const std::string& path) { return path + ".journal"; }

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const;
  bool read_only() const;
  std::string store_id() const;  // 32 hex digits
  uint64_t generation() const;   // checkpoints made so far

  std::string attribute(const std::string& name) const;  // InputError if missing
  bool has_attribute(const std::string& name) const;
  std::map<std::string, std::string> attributes() const;  // the layout's (no mgsweep_store_*)

  std::vector<std::string> datasets() const;  // numeric datasets, sorted ("/a/b")
  bool has_dataset(const std::string& dataset) const;
  std::vector<uint64_t> shape(const std::string& dataset) const;
  ElemType type(const std::string& dataset) const;
  std::string doc(const std::string& dataset) const;
  std::vector<std::string> string_datasets() const;
  std::vector<std::string> read_strings(const std::string& dataset) const;

  // Journals the hyperslab [offset, offset + count) of `dataset`; nbytes must equal
  // prod(count) * elem_size. std::invalid_argument for an unknown dataset, a wrong rank,
  // out-of-range bounds or size; std::logic_error on a read-only store.
  void put(const std::string& dataset, const Index& offset, const Index& count, const void* data,
           size_t nbytes);
  template <class T>
  void put(const std::string& dataset, const Index& offset, const Index& count,
           const std::vector<T>& values) {
    check_type(dataset, elem_type_of<T>());
    put(dataset, offset, count, values.data(), values.size() * sizeof(T));
  }

  void read(const std::string& dataset, const Index& offset, const Index& count, void* out,
            size_t nbytes) const;
  template <class T>
  std::vector<T> read_values(const std::string& dataset, const Index& offset,
                             const Index& count) const {
    check_type(dataset, elem_type_of<T>());
    uint64_t n = 1;
    for (uint64_t c : count) n *= c;
    std::vector<T> v(n);
    read(dataset, offset, count, v.data(), v.size() * sizeof(T));
    return v;
  }
  template <class T>
  std::vector<T> read_all(const std::string& dataset) const {
    const Index s = shape(dataset);
    return read_values<T>(dataset, Index(s.size(), 0), s);
  }

  // Makes every put() so far durable (see above). A no-op when nothing is pending. If it
  // throws, the store refuses further writes: destroy it and open() again to recover.
  void checkpoint();
  uint64_t journal_bytes() const;  // journaled bytes not yet checkpointed
  size_t pending_records() const;

  // Checkpoints, then closes the files. The destructor closes without a checkpoint (the
  // journal keeps the records; the next open() applies them).
  void close();

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  void check_type(const std::string& dataset, ElemType expected) const;
  std::unique_ptr<Impl> impl_;
};

namespace store_testing {
// Places in the store's code where the crash test kills the process (a hook that raises
// SIGKILL). Not for production use.
enum class CrashPoint {
  kCreateFileBuilt,  // PATH.creating complete and fsynced, not yet linked
  kCreateLinked,     // PATH exists, PATH.journal does not yet
  kPutAppended,      // a record was appended to the journal
  kCheckpointJournalSynced,
  kCheckpointRecordApplied,  // arg: index (in put() order) of the record just written
  kCheckpointValuesSynced,   // every record but the completion flags durable in PATH
  kCheckpointDataSynced,     // the flags too
  kCheckpointCommitted,      // generation+1 durable, journal not yet truncated
  kCheckpointDone,
};
using CrashHook = void (*)(CrashPoint point, uint64_t arg);
void set_crash_hook(CrashHook hook);
}  // namespace store_testing

}  // namespace mg::sweep
