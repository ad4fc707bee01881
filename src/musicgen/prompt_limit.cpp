#include "musicgen/prompt_limit.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "musicgen/errors.h"

namespace mg {

namespace {

using json = nlohmann::json;

// transformers' VERY_LARGE_INTEGER (int(1e30)) and anything near it mean "not recorded".
constexpr double kNoLimitRecorded = 1e18;

// The longest prefix of at most `max` bytes that does not cut a UTF-8 character.
std::string_view utf8_prefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

}  // namespace

std::string PromptLimit::describe() const {
  const std::string n = std::to_string(max_tokens);
  if (from_config) return "the " + n + " that " + config_path + " allows (model_max_length)";
  return "the default limit of " + n + " (" +
         (config_exists ? config_path + " has no usable model_max_length"
                        : "the checkpoint has no " + config_path) +
         ")";
}

PromptLimit read_prompt_limit(const std::string& model_dir) {
  PromptLimit lim;
  lim.config_path = (std::filesystem::path(model_dir) / "tokenizer_config.json").string();
  std::ifstream in(lim.config_path, std::ios::binary);
  if (!in) return lim;
  lim.config_exists = true;
  std::ostringstream ss;
  ss << in.rdbuf();
  json root;
  try {
    root = json::parse(ss.str());
  } catch (const json::exception& e) {
    throw InputError(lim.config_path, "", std::string("is not valid JSON: ") + e.what(),
                     "fix or remove the file (without it prompts are limited to " +
                         std::to_string(kDefaultPromptTokens) + " tokens)");
  }
  if (!root.is_object() || !root.contains("model_max_length")) return lim;
  const json& v = root["model_max_length"];
  if (v.is_number() && v.get<double>() >= kNoLimitRecorded) return lim;
  if (!v.is_number_integer() || v.get<int64_t>() < 1)
    throw InputError(lim.config_path, "model_max_length", "is not a positive integer",
                     "T5's is 512");
  lim.max_tokens = v.get<int64_t>();
  lim.from_config = true;
  return lim;
}

SettingProblem prompt_length_problem(const T5Tokenizer& tokenizer, const PromptLimit& limit,
                                     std::string_view text, int64_t* count) {
  const auto bound = static_cast<size_t>(limit.max_tokens * kMaxBytesPerToken);
  const std::string_view head = utf8_prefix(text, bound);
  const auto tokens = static_cast<int64_t>(tokenizer.encode(head).size());
  if (count) *count = tokens;
  const std::string fix =
      "shorten the prompt to at most " + std::to_string(limit.max_tokens) + " tokens";
  if (head.size() < text.size()) {
    const std::string bytes = "is " + std::to_string(text.size()) + " bytes";
    if (tokens > limit.max_tokens)
      return {bytes + ", and its first " + std::to_string(head.size()) + " bytes alone are " +
                  std::to_string(tokens) + " tokens, more than " + limit.describe(),
              fix};
    // Few tokens in many bytes (a long run of characters outside the vocabulary is one <unk>):
    // still far past any sensible prompt.
    return {bytes + ", more than " + std::to_string(kMaxBytesPerToken) +
                " bytes for each token of " + limit.describe(),
            fix};
  }
  if (tokens > limit.max_tokens)
    return {"has " + std::to_string(tokens) + " tokens, more than " + limit.describe(), fix};
  return {};
}

int64_t check_prompt_length(const T5Tokenizer& tokenizer, const PromptLimit& limit,
                            std::string_view text, const std::string& source,
                            const std::string& field) {
  int64_t tokens = 0;
  const SettingProblem p = prompt_length_problem(tokenizer, limit, text, &tokens);
  if (!p.ok()) throw InputError(source, field, p.problem, p.fix);
  return tokens;
}

}  // namespace mg
