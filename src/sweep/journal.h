// The store's write-ahead journal (PATH.journal): its on-disk format and the file itself.
// Plain C++17, no HDF5 and no LibTorch, so the format can be tested (and fuzzed) alone.
//
// Format, all integers little-endian:
//   header (64 bytes, written once when the journal is made, never rewritten):
//     0  8  magic "MGSWJRNL"
//     8  4  format version (1)
//    12  4  header size (64)
//    16 16  store id: the random id of the HDF5 store this journal belongs to
//    32 28  zero
//    60  4  CRC-32C of bytes 0..59
//   records, back to back from byte 64:
//     0  4  magic "MGRC"
//     4  4  rank R (0..32)
//     8  8  record size S in bytes, this field and the CRC included
//    16  8  generation: the store's checkpoint count when the record was written
//    24  4  dataset path length L
//    28  4  zero
//    32  L  dataset path (UTF-8, "/a/b")
//       8R  offset[R]
//       8R  count[R]
//        8  payload size P
//        P  payload: the elements of the hyperslab, row-major, native byte order
//        4  CRC-32C of every byte of the record before it
// A reader takes the longest prefix of records that are complete, CRC-valid and of the
// expected generation; the first record that is not ends the journal (a torn tail, or stale
// bytes from before a truncation). Records after it are never applied (what lies beyond a
// damaged record cannot be trusted to be in order), but the scan looks past it for valid
// records of the expected generation, so that the store can say which results a damaged
// record in the middle of the journal cost (JournalScan::dropped).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mg::sweep {

using StoreId = std::array<uint8_t, 16>;

constexpr size_t kJournalHeaderSize = 64;
constexpr uint32_t kJournalVersion = 1;
constexpr uint32_t kJournalMaxRank = 32;

// CRC-32C (Castagnoli), as in iSCSI/ext4; crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

std::string to_hex(const StoreId& id);
bool from_hex(const std::string& hex, StoreId* id);
StoreId random_store_id();

struct JournalRecord {
  std::string dataset;  // "/a/b"
  uint64_t generation = 0;
  std::vector<uint64_t> offset;
  std::vector<uint64_t> count;
  std::vector<uint8_t> payload;
};

std::vector<uint8_t> encode_journal_header(const StoreId& id);
// Appends the encoded record to out.
void encode_journal_record(const JournalRecord& r, std::vector<uint8_t>* out);
size_t journal_record_size(const std::string& dataset, size_t rank, size_t payload_bytes);

struct JournalScan {
  bool header_ok = false;
  std::string header_problem;  // why not, when !header_ok
  StoreId store_id{};
  std::vector<JournalRecord> records;  // the valid prefix of the expected generation
  uint64_t valid_end = 0;              // byte offset just past the last valid record
  uint64_t size = 0;                   // bytes scanned
  // Valid records of the expected generation found after the first bad one (payloads left
  // empty): a damaged record in the middle, not a torn tail. Not applied.
  std::vector<JournalRecord> dropped;
  std::string damage;  // why the record at valid_end is bad, when dropped is not empty
};

// Parses a whole journal. Records of another generation than `generation` end the prefix.
JournalScan scan_journal(const uint8_t* data, size_t n, uint64_t generation);

// PATH.journal on disk. Not copyable; closes its descriptor when destroyed.
class JournalFile {
 public:
  // Makes PATH with just a header, atomically (PATH.creating, fsync, link, directory
  // fsync). Returns false, making nothing, if PATH already exists.
  static bool create(const std::string& path, const StoreId& id);

  // Opens an existing journal; read-only or read-write (the writer). Throws
  // std::system_error when it cannot.
  JournalFile(const std::string& path, bool writable);
  ~JournalFile();
  JournalFile(const JournalFile&) = delete;
  JournalFile& operator=(const JournalFile&) = delete;

  // Takes the store's single-writer lock (flock, exclusive, non-blocking) on this journal.
  // False when another open file description holds it; true when taken, or when the file
  // system does not do flock at all (then nothing guards against a second writer).
  bool try_lock();

  std::vector<uint8_t> read_all() const;
  // Appends at end(); if the write fails part-way the partial bytes are cut off again and
  // std::system_error is thrown.
  void append(const uint8_t* data, size_t n);
  void sync();  // fdatasync
  // Cuts the journal back to its header (no fsync: a stale tail is harmless, its records
  // belong to an older generation).
  void truncate_to_header();
  uint64_t end() const { return end_; }
  void set_end(uint64_t end) { end_ = end; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t end_ = 0;
};

// fsync of the directory that holds `path` (makes a rename, link or unlink in it durable).
void fsync_parent_dir(const std::string& path);

}  // namespace mg::sweep
