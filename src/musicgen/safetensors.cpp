#include "musicgen/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "musicgen/errors.h"

namespace mg {
namespace {

// 100 MB of JSON is far beyond any real header (musicgen-large: ~100 KB) and keeps a
// lying length from making us allocate the world.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

struct DtypeInfo {
  const char* name;
  StDtype dtype;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {"F64", StDtype::F64, 8},   {"F32", StDtype::F32, 4}, {"F16", StDtype::F16, 2},
    {"BF16", StDtype::BF16, 2}, {"I64", StDtype::I64, 8}, {"I32", StDtype::I32, 4},
    {"I16", StDtype::I16, 2},   {"I8", StDtype::I8, 1},   {"U8", StDtype::U8, 1},
    {"BOOL", StDtype::BOOL, 1},
};

// A tensor name as it may appear in an error: the file is untrusted, and a name with a
// newline (or a megabyte long) must not break the one-line message.

uint64_t read_le_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

bool parse_st_dtype(const std::string& s, StDtype* out) {
  for (const auto& d : kDtypes)
    if (s == d.name) {
      *out = d.dtype;
      return true;
    }
  return false;
}
const char* st_dtype_name(StDtype dt) {
  for (const auto& d : kDtypes)
    if (d.dtype == dt) return d.name;
  return "?";
}
size_t st_dtype_size(StDtype dt) {
  for (const auto& d : kDtypes)
    if (d.dtype == dt) return d.size;
  return 0;
}

int64_t StTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

StHeader parse_safetensors(const uint8_t* data, size_t size, const std::string& file) {
  const std::string fix = "the file is truncated or not a safetensors file; download it again";
  if (size < 8) throw InputError(file, "header length", "file is shorter than 8 bytes", fix);
  const uint64_t n = read_le_u64(data);
  if (n > kMaxHeaderBytes || n > size - 8)
    throw InputError(file, "header length",
                     "header claims " + std::to_string(n) + " bytes but the file has " +
                         std::to_string(size - 8) + " after the length field",
                     fix);
  nlohmann::json j = nlohmann::json::parse(data + 8, data + 8 + n, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw InputError(file, "header", "header is not a JSON object", fix);

  StHeader h;
  h.data_offset = 8 + n;
  const uint64_t data_size = size - h.data_offset;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const std::string name = printable(key);  // for errors
    const auto& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) throw InputError(file, "__metadata__", "is not an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        if (m.value().is_string()) h.metadata[m.key()] = m.value().get<std::string>();
      continue;
    }
    if (!v.is_object()) throw InputError(file, name, "tensor entry is not an object", fix);
    StTensor t;
    t.name = key;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string() || !parse_st_dtype(dt->get<std::string>(), &t.dtype))
      throw InputError(file, name + ".dtype", "missing or unsupported dtype",
                       "supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL");
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array())
      throw InputError(file, name + ".shape", "missing or not an array", fix);
    // Element count with overflow checks: a lying shape must not wrap around. The bound
    // is over the non-zero dimensions, so that a zero cannot hide a dimension that does
    // not fit the int64 sizes and strides of the tensor made from it.
    uint64_t numel = 1, bound = 1;
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned())
        throw InputError(file, name + ".shape", "dimension is not a non-negative integer", fix);
      const uint64_t dim = d.get<uint64_t>();
      if (dim > 0 && bound > std::numeric_limits<uint64_t>::max() / 16 / dim)
        throw InputError(file, name + ".shape", "shape is absurdly large", fix);
      if (dim > 0) bound *= dim;
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw InputError(file, name + ".data_offsets", "missing or not two non-negative integers",
                       fix);
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.begin > t.end || t.end > data_size)
      throw InputError(file, name + ".data_offsets",
                       "range [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                           ") lies outside the " + std::to_string(data_size) + "-byte data section",
                       fix);
    if (t.end - t.begin != numel * st_dtype_size(t.dtype))
      throw InputError(file, name + ".data_offsets",
                       "holds " + std::to_string(t.end - t.begin) +
                           " bytes but dtype and shape need " +
                           std::to_string(numel * st_dtype_size(t.dtype)),
                       fix);
    h.tensors.push_back(std::move(t));
  }
  std::sort(h.tensors.begin(), h.tensors.end(),
            [](const StTensor& a, const StTensor& b) { return a.begin < b.begin; });
  // Against the furthest end so far, not just the previous tensor's: an empty tensor
  // (or one nested inside a bigger one) must not hide an overlap.
  size_t furthest = 0;  // the tensor with the largest end among those before i
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const StTensor& t = h.tensors[i];
    if (i > 0 && t.begin != t.end && t.begin < h.tensors[furthest].end)
      throw InputError(file, printable(t.name) + ".data_offsets",
                       "overlaps the bytes of " + printable(h.tensors[furthest].name), fix);
    if (t.end > h.tensors[furthest].end) furthest = i;
    h.index[t.name] = i;
  }
  return h;
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw InputError(path, "", std::string("cannot open: ") + std::strerror(errno),
                     "check the --model folder");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw InputError(path, "", std::string("cannot stat: ") + std::strerror(errno));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw InputError(path, "", std::string("cannot mmap: ") + std::strerror(errno));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

SafetensorsFile::SafetensorsFile(const std::string& path)
    : map_(std::make_shared<MappedFile>(path)),
      header_(parse_safetensors(map_->data(), map_->size(), path)) {}

const StTensor* SafetensorsFile::find(const std::string& name) const {
  auto it = header_.index.find(name);
  return it == header_.index.end() ? nullptr : &header_.tensors[it->second];
}

void write_safetensors(const std::string& path, const std::vector<StWriteItem>& items,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) h["__metadata__"] = metadata;
  uint64_t off = 0;
  for (const auto& it : items) {
    h[it.name] = {{"dtype", st_dtype_name(it.dtype)},
                  {"shape", it.shape},
                  {"data_offsets", {off, off + it.nbytes}}};
    off += it.nbytes;
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');  // align the data section to 8 bytes
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw InputError(path, "", "cannot write", "check the output folder");
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const auto& it : items)
      out.write(static_cast<const char*>(it.data), static_cast<std::streamsize>(it.nbytes));
    if (!out) throw InputError(path, "", "write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw InputError(path, "", std::string("cannot rename temp file: ") + std::strerror(errno));
}

}  // namespace mg
