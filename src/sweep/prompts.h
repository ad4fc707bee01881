// The prompts of a concept, enumerated exactly as the paper's code
// (interchange_interventions/prompt_generator.py, PromptGenerator.get_prompts_for): the
// concept's slot is fixed to its value, the other slots run through their vocabularies in
// nested loops in the order slot_order (outermost first, the fixed slot left out), and the
// first prompts_per_concept prompts are used. So prompt i of a concept is the paper's prompt
// i, e.g. guitar 0 = "Compose a emotional rock piece, with a guitar melody. Use a fast tempo."
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mg::sweep {

struct JobSpec;

// The template with every "[SLOT]" replaced by values.at(SLOT); text in brackets that is
// not a slot name stays as it is.
std::string fill_template(const std::string& tmpl,
                          const std::map<std::string, std::string>& values);

// The slot names a template uses ("[MOOD]" -> "MOOD"), in order of first appearance.
std::vector<std::string> template_slots(const std::string& tmpl);

// How many distinct prompts a concept of slot `fixed_slot` has (product of the other slots'
// vocabulary sizes).
int64_t prompt_combinations(const JobSpec& spec, const std::string& fixed_slot);

// Prompt i (0-based) of concept number `concept_index`; i may run past prompts_per_concept up to
// prompt_combinations() - 1.
std::string concept_prompt(const JobSpec& spec, size_t concept_index, int64_t i);

// The first spec.prompts_per_concept prompts of concept number `concept_index`.
std::vector<std::string> concept_prompts(const JobSpec& spec, size_t concept_index);

}  // namespace mg::sweep
