// Safetensors files: a little-endian u64 header length, a JSON header mapping
// tensor names to {dtype, shape, data_offsets}, then the raw bytes.
// The parser treats the file as untrusted: every length and offset is checked
// against the file before anything is read, so a truncated or lying file gives
// an InputError, never an out-of-bounds read. Plain C++ (no LibTorch) so that it
// can be fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mg {

enum class StDtype { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

// "F32" -> StDtype::F32; false for a dtype we do not support.
bool parse_st_dtype(const std::string& s, StDtype* out);
const char* st_dtype_name(StDtype d);
size_t st_dtype_size(StDtype d);

struct StTensor {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
  int64_t numel() const;
};

struct StHeader {
  std::vector<StTensor> tensors;                // in file order of offsets
  std::map<std::string, size_t> index;          // name -> position in tensors
  std::map<std::string, std::string> metadata;  // "__metadata__"
  uint64_t data_offset = 0;                     // 8 + header length
};

// Parses and validates the header of a whole safetensors file held in
// [data, data+size). `file` names it in errors.
StHeader parse_safetensors(const uint8_t* data, size_t size, const std::string& file);

// A read-only memory map of a file (RAII).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// One memory-mapped safetensors file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  const StHeader& header() const { return header_; }
  const StTensor* find(const std::string& name) const;
  const uint8_t* bytes(const StTensor& t) const {
    return map_->data() + header_.data_offset + t.begin;
  }
  const std::string& path() const { return map_->path(); }
  // Keeps the mapping alive for tensors that borrow its memory.
  std::shared_ptr<const MappedFile> mapping() const { return map_; }

 private:
  std::shared_ptr<const MappedFile> map_;
  StHeader header_;
};

// For writers (make-model, tests): one tensor's name, dtype, shape and bytes.
struct StWriteItem {
  std::string name;
  StDtype dtype;
  std::vector<int64_t> shape;
  const void* data;
  size_t nbytes;
};
// Writes atomically (temp file + rename), tensors in the order given.
void write_safetensors(const std::string& path, const std::vector<StWriteItem>& items,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace mg
