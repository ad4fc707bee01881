// For the journal fuzzers: random bytes almost never carry a valid CRC-32C, so without help
// libFuzzer would never get past the checksums to the fields behind them. fix_journal()
// rewrites the header's and every record's CRC (as far as the declared record sizes chain
// within the bytes), and optionally the records' generation, making a mutated journal
// checksum-valid; the parser then has to judge its fields on their own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sweep/journal.h"

namespace fuzz {

inline void put_le(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t get_le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Byte 32 of a record is where its path starts (journal.h); a record is at least that plus
// the payload size and the CRC.
inline void fix_journal(std::vector<uint8_t>* j, bool set_generation, uint64_t generation) {
  std::vector<uint8_t>& b = *j;
  if (b.size() < mg::sweep::kJournalHeaderSize) return;
  put_le(b.data() + 60, mg::sweep::crc32c(b.data(), 60), 4);
  size_t pos = mg::sweep::kJournalHeaderSize;
  while (b.size() - pos >= 32 + 12) {
    uint8_t* p = b.data() + pos;
    const uint64_t size = get_le(p + 8, 8);
    if (size < 32 + 12 || size > b.size() - pos) return;
    if (set_generation) put_le(p + 16, generation, 8);
    put_le(p + size - 4, mg::sweep::crc32c(p, size - 4), 4);
    pos += size;
  }
}

}  // namespace fuzz
