// The classifier of a job, as `run` and `rescore` make it, and the check that it reads the
// clips as they are generated.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>

#include "classify/classifier.h"
#include "musicgen/config.h"
#include "sweep/spec.h"

namespace mg::sweep {

// `which`: "demo" or a TorchScript file. `labels_csv` overrides the job's label CSV (empty:
// the job's). The demo classifier is made to read exactly the job's clip length (it has no
// fixed input); a TorchScript file has the length it was exported for.
std::unique_ptr<mg::Classifier> make_job_classifier(const std::string& which, const JobSpec& spec,
                                                    const mg::MusicgenConfig& model,
                                                    const std::string& labels_csv,
                                                    at::Device device);

// Samples of one generated clip of the job at the model's rate: frames * hop.
int64_t clip_samples(const JobSpec& spec, const mg::MusicgenConfig& model);

// InputError unless the classifier reads clips of the job's length as they are, or the job's
// [classifier] fit_length allows the padding or cropping it would need. The message names
// both lengths and the export command that fixes it.
void check_clip_length(const JobSpec& spec, const mg::MusicgenConfig& model,
                       const mg::Classifier& classifier, const std::string& where);

}  // namespace mg::sweep
