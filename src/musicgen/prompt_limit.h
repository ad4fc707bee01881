// How many tokens a prompt may have: the checkpoint's tokenizer_config.json model_max_length
// (512 for MusicGen's T5), or kDefaultPromptTokens where the file or the key is absent. The T5
// encoder's attention is quadratic in the prompt's length (a 50,000-word prompt took 23 GB), so
// longer prompts are refused, with both numbers, before anything is allocated. Plain C++, no
// LibTorch: `generate`, the job spec and MusicGen::encode share it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "musicgen/generation_settings.h"
#include "musicgen/tokenizer.h"

namespace mg {

// The limit where the checkpoint states none (T5's, as transformers' T5 tokenizers record it).
constexpr int64_t kDefaultPromptTokens = 512;
// A prompt longer than this many bytes per allowed token is over the limit on any text the
// T5 vocabulary would make (its pieces are a few bytes): only its first bytes are tokenized,
// so that refusing a huge prompt costs no more than a prompt of the allowed length.
constexpr int64_t kMaxBytesPerToken = 64;

struct PromptLimit {
  int64_t max_tokens = kDefaultPromptTokens;
  std::string config_path;  // the tokenizer_config.json that was looked for
  bool config_exists = false;
  bool from_config = false;  // max_tokens is its model_max_length
  // "the 512 that DIR/tokenizer_config.json allows (model_max_length)" or the default's words.
  std::string describe() const;
};

// Reads MODEL_DIR/tokenizer_config.json. Throws InputError naming the file for a file that is
// not JSON or a model_max_length that is not a positive integer. transformers writes a huge
// placeholder (1e30) for "no limit recorded": that counts as absent.
PromptLimit read_prompt_limit(const std::string& model_dir);

// What is wrong with `text`'s length (ok(): nothing); *count: its tokens (or its first bytes').
SettingProblem prompt_length_problem(const T5Tokenizer& tokenizer, const PromptLimit& limit,
                                     std::string_view text, int64_t* count = nullptr);

// Throws InputError(source, field, ...) when `text` has more tokens (</s> included) than the
// limit; the message names the count (or, for a text past kMaxBytesPerToken bytes per allowed
// token, the count of its first bytes) and the limit. Returns the count otherwise.
int64_t check_prompt_length(const T5Tokenizer& tokenizer, const PromptLimit& limit,
                            std::string_view text, const std::string& source,
                            const std::string& field);

}  // namespace mg
