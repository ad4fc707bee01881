#include "musicgen/generation_settings.h"

#include <cmath>
#include <limits>

namespace mg {

namespace {

SettingProblem fine() { return {}; }

}  // namespace

SettingProblem check_top_k(int64_t top_k) {
  if (top_k < 0) return {"must be >= 0", "0 turns the top-k filter off; MusicGen's default is 250"};
  return fine();
}

SettingProblem check_temperature(double t) {
  // Logits are divided by it: 0 gives inf/nan scores, a negative one inverts the distribution,
  // and either way the codes are arbitrary.
  if (!std::isfinite(t) || t <= 0)
    return {"must be a finite number above 0",
            "MusicGen's default is 1.0; for argmax decoding use greedy instead"};
  return fine();
}

SettingProblem check_guidance(double g) {
  // Applied in float32 (generation.cpp): past float's range the scale is inf, and 0 * inf
  // turns logits into nan.
  if (!std::isfinite(g) || g < 0 || g > static_cast<double>(std::numeric_limits<float>::max()))
    return {"must be a finite number from 0 to 3.4e38, as it is applied in float32",
            "MusicGen's default is 3.0; 1 is the conditional model alone, 0 the unconditional"};
  return fine();
}

SettingProblem check_seed(int64_t seed) {
  if (seed < 0) return {"must be >= 0", "any integer from 0 to 9223372036854775807"};
  return fine();
}

SettingProblem check_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds <= 0)
    return {"must be a finite number of seconds above 0", "e.g. 4 (the paper's clips)"};
  return fine();
}

SettingProblem check_frames(int64_t frames) {
  if (frames < 1) return {"must be at least 1", "MusicGen makes 50 frames per second of audio"};
  return fine();
}

}  // namespace mg
