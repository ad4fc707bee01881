// Yardsticks that do not move, for the benchmarks: what the CPU's vector units allow in
// theory, and the process's peak resident memory. Every speed figure in the notes is a ratio
// to these (or to the measured best-of-N GEMM and read bandwidth, or to a peer in the same
// run), never to one noisy measurement.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace bench {

struct CpuPeak {
  double flops = 0;  // float32 FLOP/s of `cores` cores at `ghz`, every FMA unit busy
  int cores = 0;
  double ghz = 0;
  int flops_per_cycle = 0;
  std::string isa;  // "AVX-512" | "AVX2" | "SSE"
};

// cores x clock x float32 FLOPs per cycle for the widest vector ISA the CPU has, assuming two
// FMA units per core (every AVX-512 server core since Skylake-SP and every AVX2 core since
// Haswell and Zen 2 has two): AVX-512 2 x 16 x 2 = 64, AVX2 2 x 8 x 2 = 32. The clock is the
// CPU's maximum frequency where the kernel says (cpufreq), else what /proc/cpuinfo shows now.
// `kernel_isa` ("avx2" when our kernels are forced to AVX2 on an AVX-512 CPU) caps the ISA.
inline CpuPeak theoretical_cpu_peak(int cores, const std::string& kernel_isa = "") {
  CpuPeak p;
  p.cores = cores;
  std::ifstream info("/proc/cpuinfo");
  std::string line, flags;
  double mhz = 0;
  while (std::getline(info, line)) {
    if (mhz == 0 && line.rfind("cpu MHz", 0) == 0) mhz = std::stod(line.substr(line.find(':') + 1));
    if (flags.empty() && line.rfind("flags", 0) == 0)
      flags = " " + line.substr(line.find(':') + 1) + " ";
  }
  std::ifstream maxf("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  double khz = 0;
  if (maxf >> khz && khz > 0) mhz = khz / 1000.0;
  p.ghz = mhz / 1000.0;
  if (flags.find(" avx512f ") != std::string::npos && kernel_isa != "avx2") {
    p.isa = "AVX-512", p.flops_per_cycle = 64;
  } else if (flags.find(" avx2 ") != std::string::npos &&
             flags.find(" fma ") != std::string::npos) {
    p.isa = "AVX2", p.flops_per_cycle = 32;
  } else {
    p.isa = "SSE", p.flops_per_cycle = 8;
  }
  p.flops = cores * p.ghz * 1e9 * p.flops_per_cycle;
  return p;
}

// Peak resident set of this process so far, in MiB (getrusage: kilobytes on Linux).
inline double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// Resident set now, in MiB (/proc/self/statm), to see growth across steps or items.
inline double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

}  // namespace bench
