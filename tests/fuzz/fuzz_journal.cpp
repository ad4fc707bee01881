// libFuzzer target: arbitrary bytes as a store's write-ahead journal (PATH.journal) ->
// mg::sweep::scan_journal, the parser every resume and every read-only open runs. The first
// byte is for the harness: bit 0 makes the input checksum-valid first (journal_fixup.h),
// bit 1 also stamps every record with the generation asked for; the rest is the journal.
// The scan must never read outside the bytes (ASan), and what it returns must be exactly
// the journal's valid prefix: records of the asked generation, ending at valid_end, that
// encoded again and scanned again give the same records and length.
//   seed corpus: journals that the store itself writes (fuzz_store_open
//   -write_seeds, see tools/fuzz.sh): a header, and records of every element type
#include <cstddef>
#include <cstdint>
#include <vector>

#include "journal_fixup.h"
#include "sweep/journal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  // A heap copy of exactly the journal's bytes: a read one past the end is an ASan report.
  std::vector<uint8_t> j(data + 1, data + size);
  // The generation asked for: the first record's when there is one (a resume asks for the
  // store's current generation, which the records it wrote carry).
  uint64_t generation = 0;
  if (j.size() >= mg::sweep::kJournalHeaderSize + 24)
    generation = fuzz::get_le(j.data() + mg::sweep::kJournalHeaderSize + 16, 8);
  if (mode & 1) fuzz::fix_journal(&j, mode & 2, generation);

  const mg::sweep::JournalScan s = mg::sweep::scan_journal(j.data(), j.size(), generation);
  if (s.size != j.size()) __builtin_trap();
  if (!s.header_ok) {
    if (s.header_problem.empty() || !s.records.empty()) __builtin_trap();
    return 0;
  }
  if (s.valid_end < mg::sweep::kJournalHeaderSize || s.valid_end > j.size()) __builtin_trap();
  std::vector<uint8_t> again = mg::sweep::encode_journal_header(s.store_id);
  for (const auto& r : s.records) {
    if (r.generation != generation) __builtin_trap();
    if (r.offset.size() != r.count.size() || r.offset.size() > mg::sweep::kJournalMaxRank)
      __builtin_trap();
    mg::sweep::encode_journal_record(r, &again);
  }
  if (again.size() != s.valid_end) __builtin_trap();  // records lie back to back, no gaps
  const mg::sweep::JournalScan t = mg::sweep::scan_journal(again.data(), again.size(), generation);
  if (!t.header_ok || t.store_id != s.store_id || t.valid_end != s.valid_end ||
      t.records.size() != s.records.size())
    __builtin_trap();
  for (size_t i = 0; i < s.records.size(); ++i) {
    const auto &a = s.records[i], &b = t.records[i];
    if (a.dataset != b.dataset || a.offset != b.offset || a.count != b.count ||
        a.payload != b.payload)
      __builtin_trap();
  }
  return 0;
}
