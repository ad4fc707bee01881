// Shared by the libFuzzer targets: the one rule every parser of untrusted input keeps.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace fuzz {

// The CLI prints an InputError's what() as its one error line (`mgsweep: error: ...`): it
// must say something, stay on one line in a Slurm log and not be a flood.
inline void check_error_line(const std::string& msg) {
  if (msg.empty() || msg.find('\n') != std::string::npos || msg.size() > 4096) __builtin_trap();
}

// A private folder for a target that needs files: /dev/shm/mgsweep-fuzz-NAME-PID (fsync is
// free there), removed at exit. A run that crashed, or that libFuzzer ended with _Exit,
// leaves its folder behind: the next start removes those whose process is gone.
inline std::string private_dir(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path base = fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
  const std::string prefix = "mgsweep-fuzz-" + name + "-";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(base, ec)) {
    const std::string n = e.path().filename().string();
    if (n.compare(0, prefix.size(), prefix) != 0) continue;
    const long pid = std::strtol(n.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0) fs::remove_all(e.path(), ec);
  }
  static std::string dir;  // one per target binary
  dir = (base / (prefix + std::to_string(::getpid()))).string();
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  std::atexit([] {
    std::error_code ec2;
    std::filesystem::remove_all(dir, ec2);  // the links only, not what they point to
  });
  return dir;
}

}  // namespace fuzz
