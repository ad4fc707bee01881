// A little binary encoding for the messages between coordinator and workers:
// plain values and arrays appended to a byte vector and read back in order.
// Both ends run the same build, so native byte order and sizes are fine.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace mg::sweep {

class WireWriter {
 public:
  template <class T>
  void put(const T& v) {
    append(&v, sizeof(T));
  }
  template <class T>
  void put_array(const T* data, size_t n) {
    put<uint64_t>(n);
    append(data, n * sizeof(T));
  }
  void append(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class WireReader {
 public:
  explicit WireReader(const std::vector<uint8_t>& b) : b_(b) {}
  template <class T>
  T get() {
    T v;
    take(&v, sizeof(T));
    return v;
  }
  template <class T>
  std::vector<T> get_array() {
    const uint64_t n = get<uint64_t>();
    if (n > (b_.size() - pos_) / sizeof(T)) throw std::runtime_error("wire: truncated message");
    std::vector<T> v(n);
    take(v.data(), n * sizeof(T));
    return v;
  }
  bool done() const { return pos_ == b_.size(); }

 private:
  void take(void* out, size_t n) {
    if (n > b_.size() - pos_) throw std::runtime_error("wire: truncated message");
    std::memcpy(out, b_.data() + pos_, n);
    pos_ += n;
  }
  const std::vector<uint8_t>& b_;
  size_t pos_ = 0;
};

}  // namespace mg::sweep
