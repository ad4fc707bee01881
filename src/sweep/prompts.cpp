#include "sweep/prompts.h"

#include <stdexcept>

#include "sweep/spec.h"

namespace mg::sweep {

namespace {

bool is_slot_char(char c, bool first) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
         (!first && c >= '0' && c <= '9');
}

// Calls f(name, begin, end) for every "[NAME]" (NAME an identifier) in the template.
template <class F>
void for_each_placeholder(const std::string& t, F&& f) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '[') continue;
    size_t j = i + 1;
    while (j < t.size() && is_slot_char(t[j], j == i + 1)) ++j;
    if (j < t.size() && t[j] == ']' && j > i + 1) {
      f(t.substr(i + 1, j - i - 1), i, j + 1);
      i = j;
    }
  }
}

}  // namespace

std::vector<std::string> template_slots(const std::string& tmpl) {
  std::vector<std::string> out;
  for_each_placeholder(tmpl, [&](const std::string& name, size_t, size_t) {
    for (const auto& s : out)
      if (s == name) return;
    out.push_back(name);
  });
  return out;
}

std::string fill_template(const std::string& tmpl,
                          const std::map<std::string, std::string>& values) {
  std::string out;
  size_t pos = 0;
  for_each_placeholder(tmpl, [&](const std::string& name, size_t b, size_t e) {
    auto it = values.find(name);
    if (it == values.end()) return;
    out.append(tmpl, pos, b - pos);
    out += it->second;
    pos = e;
  });
  out.append(tmpl, pos, std::string::npos);
  return out;
}

int64_t prompt_combinations(const JobSpec& spec, const std::string& fixed_slot) {
  int64_t n = 1;
  for (const auto& slot : spec.slot_order) {
    if (slot == fixed_slot) continue;
    auto it = spec.vocab.find(slot);
    n *= it == spec.vocab.end() ? 0 : static_cast<int64_t>(it->second.size());
  }
  return n;
}

std::string concept_prompt(const JobSpec& spec, size_t concept_index, int64_t i) {
  if (concept_index >= spec.concepts.size())
    throw std::out_of_range("concept_prompt: concept " + std::to_string(concept_index) + " of " +
                            std::to_string(spec.concepts.size()));
  const ConceptSpec& c = spec.concepts[concept_index];
  const int64_t total = prompt_combinations(spec, c.slot);
  if (i < 0 || i >= total)
    throw std::out_of_range("concept_prompt: prompt " + std::to_string(i) + " of " +
                            std::to_string(total) + " for concept " + c.name);
  // Mixed radix, the innermost (last) slot varying fastest.
  std::map<std::string, std::string> values;
  values[c.slot] = c.value;
  int64_t rest = i;
  for (auto it = spec.slot_order.rbegin(); it != spec.slot_order.rend(); ++it) {
    if (*it == c.slot) continue;
    const auto& vocab = spec.vocab.at(*it);
    const auto n = static_cast<int64_t>(vocab.size());
    values[*it] = vocab[static_cast<size_t>(rest % n)];
    rest /= n;
  }
  return fill_template(spec.prompt_template, values);
}

std::vector<std::string> concept_prompts(const JobSpec& spec, size_t concept_index) {
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(spec.prompts_per_concept));
  for (int64_t i = 0; i < spec.prompts_per_concept; ++i)
    out.push_back(concept_prompt(spec, concept_index, i));
  return out;
}

}  // namespace mg::sweep
