// libFuzzer target: arbitrary bytes as a whole safetensors file. Parsing must either
// succeed or throw mg::InputError; a parsed header must describe only bytes inside the
// file (every tensor's range is read so that ASan catches anything past the end),
// agree with its dtype and shape, and hold no two overlapping tensors. An error must be
// one line (the CLI prints it as `mgsweep: error: ...`).
//   seed corpus: small valid files written by tools/fuzz.sh, the golden header
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "musicgen/errors.h"
#include "musicgen/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes on the heap: a read one past the end is an ASan report.
  std::vector<uint8_t> file(data, data + size);
  mg::StHeader h;
  try {
    h = mg::parse_safetensors(file.data(), file.size(), "fuzz.safetensors");
  } catch (const mg::InputError& e) {
    // The CLI prints what() as its one error line.
    const std::string msg = e.what();
    if (msg.empty() || msg.find('\n') != std::string::npos || msg.size() > 4096) __builtin_trap();
    return 0;
  }
  if (h.data_offset < 8 || h.data_offset > size) __builtin_trap();
  if (h.index.size() != h.tensors.size()) __builtin_trap();
  uint64_t prev_begin = 0;
  unsigned sum = 0;
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const mg::StTensor& t = h.tensors[i];
    auto it = h.index.find(t.name);
    if (it == h.index.end() || it->second != i) __builtin_trap();
    if (t.begin > t.end || t.end > size - h.data_offset) __builtin_trap();
    if (t.begin < prev_begin) __builtin_trap();  // sorted by offset
    prev_begin = t.begin;
    int64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) __builtin_trap();
      numel *= d;  // UBSan: must not overflow
    }
    if (numel != t.numel()) __builtin_trap();
    if (static_cast<uint64_t>(numel) * mg::st_dtype_size(t.dtype) != t.end - t.begin)
      __builtin_trap();
    // Touch every byte of the tensor.
    const uint8_t* p = file.data() + h.data_offset + t.begin;
    for (uint64_t k = 0; k < t.end - t.begin; ++k) sum += p[k];
    // No two non-empty tensors share a byte.
    for (size_t j = 0; j < i; ++j) {
      const mg::StTensor& u = h.tensors[j];
      if (t.begin != t.end && u.begin != u.end && t.begin < u.end && u.begin < t.end)
        __builtin_trap();
    }
    if (i > 64) break;  // the quadratic check on big headers would only slow the fuzzer
  }
  // Keep the reads from being optimised away.
  volatile unsigned sink = sum;
  (void)sink;
  return 0;
}
