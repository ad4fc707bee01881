// Which vector ISA the CPU kernels (packed_sgemm, decode_attention) run on.
//
// Both ISAs compute every output element with the same operations in the same order
// (one FMA chain per dot product in k order, the same exp/erf polynomials, the same
// reduction tree), so AVX2 and AVX-512 give bit-identical results: a store's numbers do
// not depend on which nodes of a cluster computed them. `none` leaves the decoder to
// ATen.
//
// The environment variable MGSWEEP_CPU_ISA (avx512 | avx2 | none) overrides the choice,
// so that CI exercises the AVX2 path on an AVX-512 machine and benchmarks compare paths;
// asking for an ISA this CPU lacks is an error, never a silent downgrade.
#pragma once

// The kernels are built wherever the compiler can target x86-64's AVX2 and AVX-512 (GCC
// or Clang; the ISA is enabled per function) and used where the CPU has them; elsewhere
// the callers take their ATen fallback.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(MGSWEEP_NO_SIMD)
#define MGSWEEP_HAVE_X86_SIMD 1
#endif

namespace mg::kernels {

enum class Isa { None, Avx2, Avx512 };

// "none", "avx2" or "avx512".
const char* isa_name(Isa isa);

// Whether this CPU and OS run that ISA's kernels (None: always).
bool isa_supported(Isa isa);

// The widest ISA this CPU supports.
Isa best_isa();

// The ISA the kernels use: MGSWEEP_CPU_ISA when set (read once; an unknown value or an
// unsupported ISA throws std::runtime_error naming the variable and the choices), else
// best_isa().
Isa kernel_isa();

// For tests and benchmarks: switch the kernels to `isa` for this process (throws
// std::runtime_error when unsupported). Packed weights do not depend on the ISA, so this
// may be called at any time between kernel calls.
void set_kernel_isa(Isa isa);

}  // namespace mg::kernels
