#include "sweep/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <system_error>

namespace mg::sweep {

namespace {

// --- CRC-32C, slicing by 8 -------------------------------------------------------------

struct Crc32cTables {
  uint32_t t[8][256];
  Crc32cTables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
  }
};

const Crc32cTables& crc_tables() {
  static const Crc32cTables tables;
  return tables;
}

// --- little-endian encoding -------------------------------------------------------------

void put_u32(std::vector<uint8_t>* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t get_u32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

constexpr char kHeaderMagic[8] = {'M', 'G', 'S', 'W', 'J', 'R', 'N', 'L'};
constexpr uint32_t kRecordMagic = 0x4352474Du;  // "MGRC" little-endian
constexpr size_t kRecordFixed = 32;             // bytes before the dataset path

std::system_error sys_error(const std::string& what, const std::string& path) {
  return std::system_error(errno, std::generic_category(), path + ": " + what);
}

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  const auto& t = crc_tables().t;
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  while (n >= 8) {
    const uint32_t lo = get_u32(p) ^ crc;
    const uint32_t hi = get_u32(p + 4);
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

std::string to_hex(const StoreId& id) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : id) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

bool from_hex(const std::string& hex, StoreId* id) {
  if (hex.size() != 32) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 16; ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*id)[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

StoreId random_store_id() {
  std::random_device rd;  // /dev/urandom on Linux
  StoreId id{};
  for (size_t i = 0; i < id.size(); i += 4) {
    const uint32_t v = rd();
    for (size_t k = 0; k < 4; ++k) id[i + k] = static_cast<uint8_t>(v >> (8 * k));
  }
  return id;
}

std::vector<uint8_t> encode_journal_header(const StoreId& id) {
  std::vector<uint8_t> h(kHeaderMagic, kHeaderMagic + 8);
  put_u32(&h, kJournalVersion);
  put_u32(&h, kJournalHeaderSize);
  h.insert(h.end(), id.begin(), id.end());
  h.resize(60, 0);
  put_u32(&h, crc32c(h.data(), h.size()));
  return h;
}

size_t journal_record_size(const std::string& dataset, size_t rank, size_t payload_bytes) {
  return kRecordFixed + dataset.size() + 16 * rank + 8 + payload_bytes + 4;
}

void encode_journal_record(const JournalRecord& r, std::vector<uint8_t>* out) {
  const size_t start = out->size();
  const size_t rank = r.offset.size();
  out->reserve(start + journal_record_size(r.dataset, rank, r.payload.size()));
  put_u32(out, kRecordMagic);
  put_u32(out, static_cast<uint32_t>(rank));
  put_u64(out, journal_record_size(r.dataset, rank, r.payload.size()));
  put_u64(out, r.generation);
  put_u32(out, static_cast<uint32_t>(r.dataset.size()));
  put_u32(out, 0);
  out->insert(out->end(), r.dataset.begin(), r.dataset.end());
  for (uint64_t v : r.offset) put_u64(out, v);
  for (uint64_t v : r.count) put_u64(out, v);
  put_u64(out, r.payload.size());
  out->insert(out->end(), r.payload.begin(), r.payload.end());
  put_u32(out, crc32c(out->data() + start, out->size() - start));
}

namespace {

// The record at p (n bytes left): its size when it is complete, CRC-valid and of
// `generation`, with *r filled in (the payload only if with_payload); else 0 and *why.
uint64_t parse_record(const uint8_t* p, size_t n, uint64_t generation, JournalRecord* r,
                      std::string* why, bool with_payload = true) {
  if (n < kRecordFixed || get_u32(p) != kRecordMagic) {
    *why = "no record magic";
    return 0;
  }
  const uint32_t rank = get_u32(p + 4);
  const uint64_t size = get_u64(p + 8);
  const uint32_t path_len = get_u32(p + 24);
  if (rank > kJournalMaxRank || size > n || size < kRecordFixed + 12 ||
      path_len > size - kRecordFixed - 12) {
    *why = "a malformed or cut-off header";
    return 0;
  }
  if (crc32c(p, size - 4) != get_u32(p + size - 4)) {
    *why = "a checksum mismatch";
    return 0;
  }
  const uint64_t fixed = kRecordFixed + path_len + 16ull * rank + 8 + 4;
  const uint8_t* q = p + kRecordFixed + path_len + 16ull * rank;
  if (fixed > size || get_u64(q) != size - fixed) {
    *why = "an inconsistent payload size";
    return 0;
  }
  if (get_u64(p + 16) != generation) {  // stale (or future) generation
    *why = "another generation";
    return 0;
  }
  r->generation = generation;
  r->dataset.assign(reinterpret_cast<const char*>(p + kRecordFixed), path_len);
  const uint8_t* dims = p + kRecordFixed + path_len;
  for (uint32_t d = 0; d < rank; ++d) r->offset.push_back(get_u64(dims + 8 * d));
  for (uint32_t d = 0; d < rank; ++d) r->count.push_back(get_u64(dims + 8 * (rank + d)));
  if (with_payload) r->payload.assign(q + 8, q + 8 + (size - fixed));
  return size;
}

}  // namespace

JournalScan scan_journal(const uint8_t* data, size_t n, uint64_t generation) {
  JournalScan s;
  s.size = n;
  if (n < kJournalHeaderSize) {
    s.header_problem = "too short for a journal header (" + std::to_string(n) + " bytes)";
    return s;
  }
  if (std::memcmp(data, kHeaderMagic, 8) != 0) {
    s.header_problem = "not an mgsweep journal (bad magic)";
    return s;
  }
  if (crc32c(data, 60) != get_u32(data + 60)) {
    s.header_problem = "header checksum mismatch";
    return s;
  }
  const uint32_t version = get_u32(data + 8);
  if (version != kJournalVersion || get_u32(data + 12) != kJournalHeaderSize) {
    s.header_problem = "journal format version " + std::to_string(version) +
                       " is not one this mgsweep reads (" + std::to_string(kJournalVersion) + ")";
    return s;
  }
  s.header_ok = true;
  std::memcpy(s.store_id.data(), data + 16, 16);

  size_t pos = kJournalHeaderSize;
  s.valid_end = pos;
  std::string why;
  while (n - pos >= kRecordFixed) {
    JournalRecord r;
    const uint64_t size = parse_record(data + pos, n - pos, generation, &r, &why);
    if (size == 0) break;
    s.records.push_back(std::move(r));
    pos += size;
    s.valid_end = pos;
  }
  // Past the end of the prefix: valid records of this generation mean a damaged record in
  // the middle (a torn tail has nothing after it; stale bytes are of older generations).
  const uint8_t magic[4] = {'M', 'G', 'R', 'C'};
  size_t at = s.valid_end + 1;
  while (at < n) {
    const void* hit = memmem(data + at, n - at, magic, sizeof(magic));
    if (hit == nullptr) break;
    at = static_cast<size_t>(static_cast<const uint8_t*>(hit) - data);
    JournalRecord r;
    std::string ignored;
    const uint64_t size = parse_record(data + at, n - at, generation, &r, &ignored, false);
    if (size == 0) {
      ++at;
      continue;
    }
    s.dropped.push_back(std::move(r));
    at += size;
  }
  if (!s.dropped.empty()) s.damage = why;
  return s;
}

// --- the file ---------------------------------------------------------------------------

namespace {

void write_all(int fd, const uint8_t* data, size_t n, off_t at, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, data, n, at);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw sys_error("write failed", path);
    }
    data += w;
    n -= static_cast<size_t>(w);
    at += w;
  }
}

}  // namespace

void fsync_parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw sys_error("cannot open the directory to fsync it", dir);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems refuse fsync on a directory (EINVAL); their renames are durable anyway
  // or not at all.
  if (rc != 0 && err != EINVAL && err != EROFS) {
    errno = err;
    throw sys_error("fsync of the directory failed", dir);
  }
}

bool JournalFile::create(const std::string& path, const StoreId& id) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return false;
  // The header is deterministic for a store id, so two processes racing here write the
  // same bytes and whichever link wins is right.
  const std::string tmp = path + ".creating";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw sys_error("cannot create", tmp);
  const std::vector<uint8_t> header = encode_journal_header(id);
  try {
    write_all(fd, header.data(), header.size(), 0, tmp);
    if (::fsync(fd) != 0) throw sys_error("fsync failed", tmp);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  bool made = true;
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) {
      made = false;
    } else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS) {
      // No hard links on this file system: rename (replaces nothing: we checked above).
      if (::rename(tmp.c_str(), path.c_str()) != 0) throw sys_error("cannot rename", tmp);
    } else {
      const int err = errno;
      ::unlink(tmp.c_str());
      errno = err;
      throw sys_error("cannot link " + tmp + " to", path);
    }
  }
  ::unlink(tmp.c_str());
  fsync_parent_dir(path);
  return made;
}

JournalFile::JournalFile(const std::string& path, bool writable) : path_(path) {
  fd_ = ::open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd_ < 0) throw sys_error("cannot open", path);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    errno = err;
    throw sys_error("cannot stat", path);
  }
  end_ = static_cast<uint64_t>(st.st_size);
}

JournalFile::~JournalFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool JournalFile::try_lock() {
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return false;
    return true;  // ENOLCK, EOPNOTSUPP, ...: no locks on this file system
  }
  return true;
}

std::vector<uint8_t> JournalFile::read_all() const {
  std::vector<uint8_t> out;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw sys_error("cannot stat", path_);
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t r = ::pread(fd_, out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw sys_error("read failed", path_);
    }
    if (r == 0) break;  // shrank meanwhile (a reader racing a checkpoint)
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

void JournalFile::append(const uint8_t* data, size_t n) {
  try {
    write_all(fd_, data, n, static_cast<off_t>(end_), path_);
  } catch (...) {
    // Cut off a partial record so that the next append does not land behind garbage.
    if (::ftruncate(fd_, static_cast<off_t>(end_)) != 0) {
    }
    throw;
  }
  end_ += n;
}

void JournalFile::sync() {
  if (::fdatasync(fd_) != 0) throw sys_error("fdatasync failed", path_);
}

void JournalFile::truncate_to_header() {
  if (::ftruncate(fd_, static_cast<off_t>(kJournalHeaderSize)) != 0) {
    throw sys_error("cannot truncate", path_);
  }
  end_ = kJournalHeaderSize;
}

}  // namespace mg::sweep
