// The public functions of spec.h other than the text forms (those: spec_text.cpp): load_job,
// load_job_text, load_slurm_profile, validate_against_model, intervention_sites and
// JobSpec::concept_index. The reading itself: spec_read.cpp; Loader, Reader, key schema:
// spec_keys.h.
#include "sweep/spec.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "musicgen/errors.h"
#include "sweep/spec_keys.h"

namespace mg::sweep {

using namespace spec_detail;

size_t JobSpec::concept_index(const std::string& n) const {
  for (size_t i = 0; i < concepts.size(); ++i)
    if (concepts[i].name == n) return i;
  return std::string::npos;
}

JobSpec load_job(const std::string& path) {
  Loader loader;
  loader.load_file(path);
  return build(loader, path, fs::path(path).stem().string());
}

JobSpec load_job_text(const std::string& text, const std::string& origin) {
  Loader loader;
  loader.load_text(text, origin);
  return build(loader, origin, "job");
}

void validate_against_model(JobSpec& s, const mg::MusicgenConfig& cfg) {
  const int64_t L = cfg.decoder.num_hidden_layers, H = cfg.decoder.num_attention_heads;
  const std::string model_desc = "the model at " + (cfg.source.empty() ? s.model : cfg.source);

  auto& g = s.generation;
  if (g.from_duration) {
    int64_t rate = kAssumedFrameRate;
    if (!cfg.audio.upsampling_ratios.empty() && cfg.audio.hop_length() > 0) rate = cfg.frame_rate();
    g.frames = std::max<int64_t>(1, std::llround(g.duration * static_cast<double>(rate)));
  }
  const int64_t steps = g.frames + cfg.decoder.max_delay();
  const std::string gkey = g.from_duration ? "generation.duration" : "generation.frames";
  if (cfg.decoder.max_position_embeddings > 0 && steps > cfg.decoder.max_position_embeddings)
    fail_at(s, gkey,
            std::to_string(g.frames) + " frames need " + std::to_string(steps) +
                " decoder steps; " + model_desc + " has " +
                std::to_string(cfg.decoder.max_position_embeddings) + " positions",
            "generate less audio");

  if (s.lens.all_layers) {
    s.lens.layers.clear();
    for (int64_t k = 1; k <= L; ++k) s.lens.layers.push_back(k);
  }
  for (size_t i = 0; i < s.lens.layers.size(); ++i)
    if (s.lens.layers[i] > L)
      fail_at(s, "lens.layers[" + std::to_string(i) + "]",
              "k = " + std::to_string(s.lens.layers[i]) + " is past " + model_desc + "'s " +
                  std::to_string(L) + " layers",
              "k counts the layers kept: 1.." + std::to_string(L));

  auto& iv = s.interventions;
  if (iv.all_layers) {
    iv.layers.clear();
    for (int64_t i = 0; i < L; ++i) iv.layers.push_back(i);
  }
  for (size_t i = 0; i < iv.layers.size(); ++i)
    if (iv.layers[i] >= L)
      fail_at(s, "interventions.layers[" + std::to_string(i) + "]",
              "layer " + std::to_string(iv.layers[i]) + " is past " + model_desc + "'s " +
                  std::to_string(L) + " layers",
              "layers count from 0: 0.." + std::to_string(L - 1));
  for (size_t i = 0; i < iv.windows.size(); ++i)
    if (iv.windows[i].t0 >= steps)
      fail_at(s, "interventions.windows[" + std::to_string(i) + "]",
              "the window starts at step " + std::to_string(iv.windows[i].t0) +
                  " but the generation has " + std::to_string(steps) + " steps",
              "steps run 0.." + std::to_string(steps - 1));
  if (iv.heads && H < 1) fail_at(s, "interventions.heads", model_desc + " has no heads");

  if (s.extremes.enabled && iv.enabled) {
    const int64_t per_layer = static_cast<int64_t>(iv.components.size()) * (iv.heads ? H : 1);
    const int64_t targets = per_layer * static_cast<int64_t>(iv.layers.size()) *
                            static_cast<int64_t>(iv.windows.size());
    if (s.extremes.top_k > targets)
      fail_at(s, "extremes.top_k",
              "top " + std::to_string(s.extremes.top_k) + " of only " + std::to_string(targets) +
                  " intervention targets per prompt",
              "lower top_k");
  }
  s.model_checked = true;
  s.model_layers = L;
  s.model_heads = H;
}

std::vector<mg::HookSite> intervention_sites(const JobSpec& s) {
  const auto& iv = s.interventions;
  if (iv.layers.empty())
    throw std::logic_error("intervention_sites: layers are \"all\"; call validate_against_model");
  if (iv.heads && s.model_heads < 1)
    throw std::logic_error("intervention_sites: head count unknown; call validate_against_model");
  std::vector<mg::HookSite> out;
  for (int64_t layer : iv.layers)
    for (const auto& c : iv.components) {
      mg::HookSite site;
      site.layer = layer;
      if (c == "mlp") {
        site.kind = mg::SiteKind::Mlp;
        out.push_back(site);
        continue;
      }
      const bool self = c == "self_attn";
      if (!iv.heads) {
        site.kind = self ? mg::SiteKind::SelfAttn : mg::SiteKind::CrossAttn;
        out.push_back(site);
        continue;
      }
      site.kind = self ? mg::SiteKind::SelfAttnHead : mg::SiteKind::CrossAttnHead;
      for (int64_t h = 0; h < s.model_heads; ++h) {
        site.head = h;
        out.push_back(site);
      }
    }
  return out;
}

SlurmSpec load_slurm_profile(const std::string& path) {
  Loader loader;
  loader.load_file(path);
  for (const auto& [p, e] : loader.flat())
    if (p != "slurm" && p.rfind("slurm.", 0) != 0)
      fail_node(*e.node, p, "a cluster profile holds only a [slurm] table",
                "move '" + p + "' into the job file");
  check_keys(loader.flat());
  JobSpec scratch;
  scratch.source = path;
  Reader r(loader.flat(), path, scratch);
  if (!r.has("slurm")) throw InputError(path, "slurm", "missing", "add a [slurm] table");
  return read_slurm(r);
}

}  // namespace mg::sweep
