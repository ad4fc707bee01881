// MGSWEEP_PROFILE=1: where loading a model goes (tokenizer, T5, decoder packing, EnCodec),
// one stderr line per load, so that the fixed cost of a command is visible without a
// profiler (bench/ and the README's benchmark section use it).
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace mg {

bool profile_enabled();  // MGSWEEP_PROFILE set, and not "0"

class LoadProfile {
 public:
  LoadProfile();
  void lap(const char* part);  // the seconds since the last lap (or construction) go to `part`
  void print(const std::string& what) const;  // "profile: load WHAT part=s ... total=s"

 private:
  using Clock = std::chrono::steady_clock;
  bool on_ = false;
  Clock::time_point start_, last_;
  std::vector<std::pair<const char*, double>> parts_;
};

}  // namespace mg
