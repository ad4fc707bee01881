// libFuzzer target: arbitrary bytes as a tokenizer.json. Loading must either
// succeed or throw mg::InputError; a loaded tokenizer must encode without
// crashing and only give ids inside its vocabulary.
//   seed corpus: tests/golden/tiny/tokenizer.json
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "musicgen/errors.h"
#include "musicgen/tokenizer.h"

namespace {

void check_ids(const mg::T5Tokenizer& tok, const std::vector<int64_t>& ids) {
  for (int64_t id : ids)
    if (id < 0 || static_cast<size_t>(id) >= tok.vocab_size()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::optional<mg::T5Tokenizer> tok;
  try {
    tok.emplace(mg::T5Tokenizer::from_json_text(input, "fuzz/tokenizer.json"));
  } catch (const mg::InputError&) {
    return 0;
  }
  static const std::vector<std::string> kTexts = {
      "",
      "Compose a happy rock piece, with a guitar melody. Use a fast tempo.",
      "  leading and\ttrailing  \n spaces  ",
      "\xef\xbd\x86\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c \xef\xbc\xa1 (NFKC) caf\xc3\xa9 "
      "e\xcc\x81\xcc\x81",
      "emoji \xf0\x9f\x8e\xb8\xf0\x9f\x8e\xb9 \xf0\x9f\x87\xba\xf0\x9f\x87\xb8 </s><pad>x<unk>",
      "\x01\x7f\xe2\x80\x8d\xe0\xa4\x95\xe0\xa5\x8d\xe0\xa4\xb7 \xea\xb0\x80\xe1\x86\xa8",
  };
  try {
    for (const std::string& t : kTexts) check_ids(*tok, tok->encode(t));
    const auto batch = tok->encode_batch(kTexts);
    check_ids(*tok, batch.ids);
    // The input itself as a prompt (its first 2 KiB; a cut inside a character is an InputError).
    check_ids(*tok, tok->encode(std::string_view(input).substr(0, 2048)));
  } catch (const mg::InputError&) {
    // A prompt that is not UTF-8, or a model without unk_id meeting an unknown character.
  }
  return 0;
}
