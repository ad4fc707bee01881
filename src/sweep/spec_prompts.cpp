// The job's prompts against the model's text encoder: every prompt the job will encode (the
// first per_concept of each concept, from the template and the vocabularies, wherever they
// were written: the job or an included file such as configs/prompt_template.toml) within the
// checkpoint's prompt limit (musicgen/prompt_limit.h), refused at load instead of at the first
// batch, or with the OOM killer. Internal to the spec loader (spec_keys.h).
#include <filesystem>

#include "musicgen/prompt_limit.h"
#include "musicgen/tokenizer.h"
#include "sweep/prompts.h"
#include "sweep/spec_keys.h"

namespace mg::sweep::spec_detail {

namespace {

// The key to point at for a prompt that is too long: the longest of the texts it is made of
// (the template, its concept's value, the vocabulary values it contains).
std::string culprit_key(const JobSpec& s, const ConceptSpec& c, const std::string& prompt) {
  std::string key = "prompts.template";
  size_t longest = s.prompt_template.size();
  if (c.value.size() > longest && prompt.find(c.value) != std::string::npos) {
    key = "concept." + c.name + ".value";
    longest = c.value.size();
  }
  for (const auto& [slot, values] : s.vocab)
    for (size_t i = 0; i < values.size(); ++i)
      if (values[i].size() > longest && prompt.find(values[i]) != std::string::npos) {
        key = "prompts.vocab." + slot + "[" + std::to_string(i) + "]";
        longest = values[i].size();
      }
  return key;
}

}  // namespace

void check_prompt_lengths(const JobSpec& s, const std::string& model_dir) {
  const std::string tok_path = (fs::path(model_dir) / "tokenizer.json").string();
  // Without a tokenizer the model cannot load either; that error is the model's to give.
  if (!fs::is_regular_file(tok_path)) return;
  const T5Tokenizer tok = T5Tokenizer::from_file(tok_path);
  const PromptLimit limit = read_prompt_limit(model_dir);
  for (size_t ci = 0; ci < s.concepts.size(); ++ci) {
    const ConceptSpec& c = s.concepts[ci];
    for (int64_t i = 0; i < s.prompts_per_concept; ++i) {
      const std::string prompt = concept_prompt(s, ci, i);
      const SettingProblem p = prompt_length_problem(tok, limit, prompt);
      if (!p.ok())
        fail_at(s, culprit_key(s, c, prompt),
                "prompt " + std::to_string(i) + " of concept '" + c.name + "' ('" +
                    printable(prompt, 40) + "') " + p.problem,
                p.fix + ", in the template or the vocabulary values that make it");
    }
  }
}

}  // namespace mg::sweep::spec_detail
