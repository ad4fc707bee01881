// mgsweep export-audio STORE: WAVs of the extremes, the baselines and DecoderLens cuts (see
// sweep/audio_export.h).
#include <ATen/Parallel.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "sweep/audio_export.h"

namespace mgcli {

void add_export_audio_command(CLI::App& app) {
  auto o = std::make_shared<mg::sweep::ExportAudioOptions>();
  auto threads = std::make_shared<int>(0);
  CLI::App* sub = app.add_subcommand(
      "export-audio",
      "Write WAVs of a store's extremes (--extremes), baselines (--baseline) and DecoderLens "
      "generations (--lens)");
  sub->add_option("store", o->store, "Store (.h5)")->required();
  sub->add_flag("--extremes", o->extremes,
                "OUT/extremes/<technique>/<a>_to_<b>/prompt<p>_{top,bottom}<r>_<target>.wav and "
                "prompt<p>_baseline.wav");
  sub->add_option("--per-pair", o->per_pair,
                  "With --extremes: only the N largest and N smallest effects of each technique "
                  "and pair over all prompts and targets (needs no extremes stage)");
  sub->add_flag("--baseline", o->baseline, "OUT/baseline/<concept>/prompt<p>.wav");
  sub->add_flag("--lens", o->lens, "OUT/lens/<concept>/k<k>_prompt<p>.wav");
  sub->add_option("--lens-k", o->lens_ks,
                  "DecoderLens cuts to export (default: up to four spread over /lens/k)")
      ->delimiter(',');
  sub->add_option("--lens-prompts", o->lens_prompts,
                  "DecoderLens: the first N prompts of each concept (default 1)");
  sub->add_flag("--manifest", o->manifest, "Also write OUT/manifest.json: what each WAV is");
  sub->add_option("--out", o->out, "Output folder (default: <store stem>_audio beside the store)");
  sub->add_option("--model", o->model, "Model folder (default: the job's model)");
  sub->add_option("--device", o->device, "cpu | cuda | cuda:N (default: the job's device)");
  sub->add_option("--batch", o->batch, "Generations decoded per call (default 16)");
  sub->add_option("--threads", *threads, "Intra-op threads (default: LibTorch's)");
  set_runner(sub, [o, threads] {
    if (*threads > 0) at::set_num_threads(*threads);
    const mg::sweep::ExportAudioResult r = mg::sweep::export_audio(*o);
    std::printf("export-audio: %lld extremes, %lld baseline and %lld DecoderLens WAVs -> %s\n",
                static_cast<long long>(r.extremes_files), static_cast<long long>(r.baseline_files),
                static_cast<long long>(r.lens_files), r.out.c_str());
    return 0;
  });
}

}  // namespace mgcli
