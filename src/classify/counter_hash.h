// A counter-based hash: the value at (seed, counter) is a pure function of the two numbers,
// with no state and no dependence on the platform, the library version or the order of
// calls. Used for the demo classifier's fixed projection, which must come out bit-identical
// on every machine (torch's RNG gives no such promise across versions and devices).
#pragma once

#include <cstdint>

namespace mg {

// SplitMix64's output function (Steele, Lea & Flood 2014) applied to the seed's stream at
// position `counter`: a bijective 64-bit mixer that passes BigCrush in this use.
constexpr uint64_t counter_hash(uint64_t seed, uint64_t counter) {
  uint64_t z = seed + (counter + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1), exactly representable: the top 53 bits of the hash scaled by 2^-52.
constexpr double counter_uniform(uint64_t seed, uint64_t counter) {
  return double(counter_hash(seed, counter) >> 11) * (1.0 / 4503599627370496.0) - 1.0;
}

}  // namespace mg
