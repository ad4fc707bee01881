#include "musicgen/load_profile.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mg {

bool profile_enabled() {
  static const bool on = [] {
    const char* p = std::getenv("MGSWEEP_PROFILE");
    return p && *p && std::strcmp(p, "0") != 0;
  }();
  return on;
}

LoadProfile::LoadProfile() : on_(profile_enabled()), start_(Clock::now()), last_(start_) {}

void LoadProfile::lap(const char* part) {
  if (!on_) return;
  const auto now = Clock::now();
  parts_.emplace_back(part, std::chrono::duration<double>(now - last_).count());
  last_ = now;
}

void LoadProfile::print(const std::string& what) const {
  if (!on_) return;
  std::string line = "profile: load " + what;
  char buf[64];
  for (const auto& [name, s] : parts_) {
    std::snprintf(buf, sizeof buf, " %s=%.3f", name, s);
    line += buf;
  }
  std::snprintf(buf, sizeof buf, " total=%.3f\n",
                std::chrono::duration<double>(last_ - start_).count());
  line += buf;
  std::fputs(line.c_str(), stderr);
}

}  // namespace mg
