// The rules for the generation settings, shared by `mgsweep generate` (flags) and the job's
// [generation] table (spec_read.cpp), so that a value one refuses the other refuses too, with
// the same words. Each check returns the problem and the fix (empty problem: the value is
// fine); the caller names where the value came from (the flag, or the file, line and key).
// Plain C++, no LibTorch.
#pragma once

#include <cstdint>
#include <string>

namespace mg {

struct SettingProblem {
  std::string problem;  // empty: the value is fine
  std::string fix;
  bool ok() const { return problem.empty(); }
};

SettingProblem check_top_k(int64_t top_k);
SettingProblem check_temperature(double temperature);
SettingProblem check_guidance(double guidance);
SettingProblem check_seed(int64_t seed);
SettingProblem check_duration(double seconds);
SettingProblem check_frames(int64_t frames);

}  // namespace mg
