#include "kernels/cpu_isa.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace mg::kernels {
namespace {

constexpr int kUnset = -1;
std::atomic<int> g_isa{kUnset};

Isa parse_isa(const char* text) {
  const std::string s(text);
  for (Isa isa : {Isa::None, Isa::Avx2, Isa::Avx512})
    if (s == isa_name(isa)) return isa;
  throw std::runtime_error("MGSWEEP_CPU_ISA=" + s.substr(0, 40) +
                           ": not an ISA of the CPU kernels (use avx512, avx2 or none)");
}

void check_supported(Isa isa, const char* who) {
  if (isa_supported(isa)) return;
  throw std::runtime_error(std::string(who) + isa_name(isa) + ": this CPU does not have " +
                           (isa == Isa::Avx512 ? "AVX-512F" : "AVX2 and FMA") + " (it runs " +
                           isa_name(best_isa()) + "; choose that or a narrower one)");
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx2:
      return "avx2";
    case Isa::None:
      break;
  }
  return "none";
}

bool isa_supported(Isa isa) {
#if defined(MGSWEEP_HAVE_X86_SIMD)
  // __builtin_cpu_supports also checks that the OS saves the wider registers.
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  static const bool avx512 = avx2 && __builtin_cpu_supports("avx512f");
  if (isa == Isa::Avx512) return avx512;
  if (isa == Isa::Avx2) return avx2;
#else
  if (isa != Isa::None) return false;
#endif
  return true;
}

Isa best_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::None;
}

Isa kernel_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v != kUnset) return static_cast<Isa>(v);
  Isa isa = best_isa();
  if (const char* env = std::getenv("MGSWEEP_CPU_ISA"); env && *env) {
    isa = parse_isa(env);
    check_supported(isa, "MGSWEEP_CPU_ISA=");
  }
  int expected = kUnset;
  g_isa.compare_exchange_strong(expected, static_cast<int>(isa));
  return static_cast<Isa>(g_isa.load());
}

void set_kernel_isa(Isa isa) {
  check_supported(isa, "kernel ISA ");
  g_isa.store(static_cast<int>(isa));
}

}  // namespace mg::kernels
