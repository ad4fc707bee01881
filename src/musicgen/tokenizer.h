// The T5 text tokenizer, read natively from a Hugging Face tokenizer.json: no
// sentencepiece, no protobuf, no LibTorch. It reproduces the ids of the Rust
// `tokenizers` library (the fast tokenizer transformers and MusicGen use) for
// the pipeline T5 files declare:
//
//   added tokens (special tokens such as </s> are cut out of the raw text first)
//   -> normalizer: Sequence of Precompiled (sentencepiece charsmap), Replace,
//      Strip, Lowercase, Prepend
//   -> pre-tokenizer: Metaspace (new `prepend_scheme`/`split` or old
//      `add_prefix_space`/`str_rep` form), WhitespaceSplit, Sequence
//   -> model: Unigram (Viterbi, unknown runs fused into one <unk>, byte_fallback)
//   -> post-processor: TemplateProcessing (`$A </s>`).
//
// Anything else (NFKC, BPE, ...) is refused with an InputError at load, never
// silently approximated. The `truncation` and `padding` sections of the file are
// ignored, as transformers does when it is not asked to truncate or pad:
// encode_batch pads to the longest row itself.
//
// A loaded tokenizer is immutable; encode() may be called from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace mg {

class T5Tokenizer {
 public:
  // Throw mg::InputError naming the file and the JSON field for anything
  // malformed or unsupported.
  static T5Tokenizer from_file(const std::string& tokenizer_json_path);
  static T5Tokenizer from_json_text(const std::string& text, const std::string& origin_name);

  // Ids of `text` (UTF-8) including what the post-processor adds (</s> = 1 for
  // T5). Throws InputError for text that is not valid UTF-8.
  std::vector<int64_t> encode(std::string_view text) const;

  int64_t pad_id() const;     // id of "<pad>" (0 for T5)
  int64_t eos_id() const;     // the special token the template appends (</s>), -1 if none
  int64_t unk_id() const;     // the Unigram model's unk_id, -1 if it has none
  size_t vocab_size() const;  // model pieces plus added tokens beyond them

  // Batch: right-padded with pad_id to the longest; mask 1 for real tokens.
  // ids and mask are row-major [rows, cols].
  struct Batch {
    std::vector<int64_t> ids;
    std::vector<int64_t> mask;
    int64_t rows = 0, cols = 0;
  };
  Batch encode_batch(const std::vector<std::string>& texts) const;

  struct Impl;

 private:
  explicit T5Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Writes a valid T5-style unigram tokenizer.json with exactly `vocab_size`
// pieces (<pad>, </s>, <unk> first, then byte/char pieces and common English and
// music word pieces with plausible scores), so that random models of real
// shapes (e.g. 32128 for t5-base) have a tokenizer. Its normalizer is the T5 one
// without the sentencepiece charsmap.
void write_synthetic_t5_tokenizer_json(const std::string& path, int64_t vocab_size);

}  // namespace mg
