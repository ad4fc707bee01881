#include "musicgen/wav.h"

#include <sndfile.h>

#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

#include "musicgen/errors.h"

namespace mg {

void write_wav(const std::string& path, const at::Tensor& audio, int64_t sample_rate) {
  if (audio.dim() != 1 && audio.dim() != 2)
    throw std::invalid_argument("write_wav: audio must be [channels, samples] or [samples]");
  if (!at::isFloatingType(audio.scalar_type()))
    throw std::invalid_argument("write_wav: audio must be a floating-point tensor");
  if (sample_rate <= 0 || sample_rate > std::numeric_limits<int>::max())
    throw std::invalid_argument("write_wav: bad sample rate " + std::to_string(sample_rate));
  const at::Tensor a = audio.dim() == 1 ? audio.unsqueeze(0) : audio;
  const int64_t channels = a.size(0);
  if (channels < 1 || channels > 1024)
    throw std::invalid_argument("write_wav: bad channel count " + std::to_string(channels));
  // Interleaved frames [samples, channels], float32, on the CPU.
  const at::Tensor frames = a.t().to(at::kCPU, at::kFloat).contiguous();
  const int64_t n = frames.size(0);

  SF_INFO info{};
  info.samplerate = static_cast<int>(sample_rate);
  info.channels = static_cast<int>(channels);
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  if (!sf_format_check(&info))
    throw std::invalid_argument("write_wav: libsndfile rejects this WAV format");

  const std::string tmp = path + ".tmp";
  SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
  if (!f)
    throw InputError(path, "", std::string("cannot write WAV: ") + sf_strerror(nullptr),
                     "check that the output folder exists and is writable");
  // No PEAK chunk (optional metadata; libsndfile would track every sample's maximum for it).
  sf_command(f, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
  const sf_count_t written = n > 0 ? sf_writef_float(f, frames.data_ptr<float>(), n) : 0;
  const std::string err = written == n ? std::string() : std::string(sf_strerror(f));
  const int close_rc = sf_close(f);
  if (written != n || close_rc != 0) {
    std::remove(tmp.c_str());
    throw InputError(path, "", "cannot write WAV: " + (err.empty() ? "close failed" : err),
                     "is the disk full?");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError(path, "", "cannot move the finished WAV into place",
                     "check that the output folder is writable");
  }
}

}  // namespace mg
