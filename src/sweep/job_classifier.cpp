#include "sweep/job_classifier.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "classify/demo_classifier.h"
#include "classify/resample.h"
#include "classify/torchscript_classifier.h"
#include "musicgen/errors.h"

namespace mg::sweep {
namespace fs = std::filesystem;

namespace {

std::string seconds_text(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", s);
  return b;
}

}  // namespace

int64_t clip_samples(const JobSpec& spec, const mg::MusicgenConfig& model) {
  return spec.generation.frames * model.audio.hop_length();
}

std::unique_ptr<mg::Classifier> make_job_classifier(const std::string& which, const JobSpec& spec,
                                                    const mg::MusicgenConfig& model,
                                                    const std::string& labels_csv,
                                                    at::Device device) {
  const std::string csv = labels_csv.empty() ? spec.labels_path : labels_csv;
  if (which == "demo") {
    mg::DemoOptions o;
    o.device = device;
    mg::Labels labels =
        csv.empty() ? mg::Labels::numbered(spec.num_labels) : mg::Labels::load_csv(csv);
    // The clip's length at the demo's rate, so that it never pads or crops (and never refuses
    // a job); at least one STFT window.
    const int64_t rate = model.audio.sampling_rate, clip = clip_samples(spec, model);
    o.input_samples = std::max(
        o.n_fft, rate == o.sample_rate ? clip : Resampler(rate, o.sample_rate).output_length(clip));
    return std::make_unique<mg::DemoClassifier>(std::move(labels), o);
  }
  if (!fs::is_regular_file(which))
    throw InputError(which, "classifier", "no such file",
                     "give a TorchScript classifier (tools/export_passt.py) or 'demo'");
  mg::TorchScriptOptions o;
  o.device = device;
  o.labels_csv = csv;
  return std::make_unique<mg::TorchScriptClassifier>(which, o);
}

void check_clip_length(const JobSpec& spec, const mg::MusicgenConfig& model,
                       const mg::Classifier& classifier, const std::string& where) {
  const int64_t rate = model.audio.sampling_rate;
  const int64_t clip = classifier.resampled_length(clip_samples(spec, model), rate);
  const int64_t want = classifier.input_samples();
  if (clip == want) return;
  const std::string& fit = spec.classifier.fit_length;
  const bool pad = clip < want;
  if (fit == "pad_or_crop" || (pad && fit == "pad") || (!pad && fit == "crop")) return;
  const double clip_s = double(clip) / classifier.sample_rate();
  const double want_s = double(want) / classifier.sample_rate();
  throw InputError(
      where, "classifier.fit_length",
      classifier.name() + " reads " + std::to_string(want) + " samples (" + seconds_text(want_s) +
          " s at " + std::to_string(classifier.sample_rate()) + " Hz), but the job generates " +
          std::to_string(spec.generation.frames) + " frames = " + std::to_string(clip) +
          " samples (" + seconds_text(clip_s) + " s): every clip would be " +
          (pad ? "zero-padded" : "cropped") +
          ", which changes every logit (the paper's code gave the classifier the clip as it was)",
      "export the classifier for the generation length: python tools/export_passt.py --seconds " +
          seconds_text(clip_s) + " --out passt_" + seconds_text(clip_s) +
          "s.pt; or set [classifier] fit_length = \"" + (pad ? "pad" : "crop") +
          "\" to accept the " + (pad ? "padding" : "cropping"));
}

}  // namespace mg::sweep
