#include "sweep/executor.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "musicgen/sampling.h"

namespace mg::sweep {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

ModelExecutor::ModelExecutor(const Plan& plan, const mg::MusicGen& model,
                             mg::Classifier& classifier)
    : plan_(plan), model_(model), classifier_(classifier) {
  const char* p = std::getenv("MGSWEEP_PROFILE");
  profile_ = p && *p && std::strcmp(p, "0") != 0;
}

// One line per stage that ran, on stderr beside the run's other logs; "rest" is what the batch
// spent outside the four parts (tokenizing, captures to the CPU, self-similarity, copies).
ModelExecutor::~ModelExecutor() {
  if (!profile_) return;
  for (int s = 0; s < 3; ++s) {
    const StageProfile& p = prof_[s];
    if (p.batches == 0) continue;
    double parts = 0;
    for (double x : p.seconds) parts += x;
    std::fprintf(stderr,
                 "profile: stage=%s batches=%lld items=%lld seconds=%.4f t5=%.4f decoder=%.4f "
                 "encodec=%.4f classifier=%.4f rest=%.4f\n",
                 stage_name(static_cast<StageKind>(s)), static_cast<long long>(p.batches),
                 static_cast<long long>(p.items), p.total, p.seconds[kT5], p.seconds[kDecoder],
                 p.seconds[kEncodec], p.seconds[kClassifier], p.total - parts);
  }
  std::fflush(stderr);
}

void ModelExecutor::lap(Part part, const at::Tensor& output) {
  if (!profile_) return;
  // A GPU runs kernels asynchronously: wait for this part's output so that its time is not
  // booked to the next part (only when profiling; a sweep never waits here).
  if (output.defined() && output.is_cuda()) (void)output.flatten()[0].item<double>();
  const double t = now_s();
  prof_[stage_].seconds[part] += t - lap_start_;
  lap_start_ = t;
}

void ModelExecutor::finish(const mg::GenerationResult& gen, BatchResult* out) {
  at::Tensor codes = gen.codes.to(at::kCPU, at::kShort).contiguous();
  out->codes.assign(codes.data_ptr<int16_t>(), codes.data_ptr<int16_t>() + codes.numel());
  lap_start_ = now_s();  // the copy above belongs to the rest
  at::Tensor audio = model_.decode_audio(gen.codes);
  lap(kEncodec, audio);
  // Classifiers read mono: average the channels of a stereo checkpoint.
  if (audio.size(1) > 1) audio = audio.mean(1, /*keepdim=*/true);
  at::Tensor logits = classifier_.classify(audio, model_.sample_rate()).contiguous();
  lap(kClassifier, logits);
  out->logits.assign(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
}

BatchResult ModelExecutor::run(const Batch& b, const MeansCache& means) {
  const auto t0 = std::chrono::steady_clock::now();
  stage_ = static_cast<int>(b.stage);
  const JobSpec& spec = plan_.spec;
  const auto& g = spec.generation;
  BatchResult out;
  mg::GenerationRequest req;
  req.frames = plan_.frames;
  req.sampling = {g.greedy, g.top_k, g.temperature, g.guidance, g.seed};

  if (b.stage == StageKind::Baseline || b.stage == StageKind::Lens) {
    std::vector<std::string> prompts(plan_.prompts[b.concept_id].begin() + b.prompt0,
                                     plan_.prompts[b.concept_id].begin() + b.prompt0 + b.count);
    for (const auto& p : prompts) req.row_keys.push_back(mg::row_key_of(p));
    const bool baseline = b.stage == StageKind::Baseline;
    if (!baseline) req.lens_layers = plan_.lens_ks[b.lens];
    if (baseline) {
      for (const auto& site : plan_.mean_sites)
        req.captures.push_back({site, mg::CaptureMode::CondRowSumFixed, {}});
      if (spec.baseline.self_similarity)
        for (int64_t i = 0; i < plan_.L; ++i)
          req.captures.push_back(
              {mg::HookSite{i, mg::SiteKind::LayerOut, -1}, mg::CaptureMode::SumOverSteps, {}});
    }
    lap_start_ = now_s();  // parts are timed from here; what came before is the rest
    const mg::Conditioning cond = model_.encode(prompts);
    lap(kT5, cond.hidden);
    mg::GenerationResult gen = model_.generate(cond, req);
    lap(kDecoder, gen.codes);
    if (baseline) {
      size_t c = 0;
      for (; c < plan_.mean_sites.size(); ++c) {
        at::Tensor s = gen.captures[c].values.cpu().contiguous();
        out.mean_sums.insert(out.mean_sums.end(), s.data_ptr<int64_t>(),
                             s.data_ptr<int64_t>() + s.numel());
      }
      if (spec.baseline.self_similarity) {
        // Frame-averaged residual stream of every layer, conditional rows: [L, n, H].
        std::vector<at::Tensor> avgs;
        for (int64_t i = 0; i < plan_.L; ++i, ++c)
          avgs.push_back(gen.captures[c].values.narrow(0, 0, b.count) /
                         static_cast<double>(gen.captures[c].count));
        at::Tensor a = at::stack(avgs, 1).cpu();      // [n, L, H] float64
        at::Tensor d = at::cdist(a, a).contiguous();  // [n, L, L]
        out.self_distance.assign(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
      }
    }
    finish(gen, &out);
  } else {
    const auto [a, bb] = plan_.pairs[b.pair];
    const std::string& prompt = plan_.prompts[a][b.prompt0];
    const mg::InterventionOp op = plan_.techniques[b.technique];
    for (int64_t r = 0; r < b.count; ++r) {
      const Target& t = plan_.targets[b.target0 + r];
      mg::Intervention iv;
      iv.site = t.site;
      iv.op = op;
      iv.row = r;
      iv.both_halves = spec.interventions.both_halves;
      iv.window = t.window;
      iv.factor = spec.interventions.scale_factor;
      if (op == InterventionOp::Replace || op == InterventionOp::Adjust ||
          op == InterventionOp::Add)
        iv.desired = means.at({bb, t.mean_index});
      if (op == InterventionOp::Adjust) iv.original = means.at({a, t.mean_index});
      req.interventions.push_back(std::move(iv));
      // Independent noise: a key of the whole item, so no two items share their dice.
      req.row_keys.push_back(mg::row_key_of(spec.generation.shared_noise
                                                ? prompt
                                                : prompt + "\x1f" + mg::op_name(op) + "\x1f" +
                                                      std::to_string(b.pair) + "\x1f" + t.name()));
      req.prompt_of_row.push_back(0);
    }
    lap_start_ = now_s();
    const mg::Conditioning cond = model_.encode({prompt});
    lap(kT5, cond.hidden);
    const mg::GenerationResult gen = model_.generate(cond, req);
    lap(kDecoder, gen.codes);
    finish(gen, &out);
  }
  out.batch = -1;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (profile_) {
    StageProfile& p = prof_[stage_];
    p.total += out.seconds, ++p.batches, p.items += b.count;
  }
  return out;
}

BatchResult NullExecutor::run(const Batch& b, const MeansCache&) {
  // Deterministic fake outputs of the right sizes: what the coordinator sees from a
  // real worker, without the model. Values depend on the item only.
  BatchResult out;
  out.codes.assign(static_cast<size_t>(b.count * plan_.K * plan_.frames), 1);
  out.logits.resize(static_cast<size_t>(b.count * plan_.classes));
  for (int64_t i = 0; i < b.count; ++i) {
    const uint64_t item = static_cast<uint64_t>(plan_.item_index(b, i)) * 7919u + 1u;
    for (int64_t c = 0; c < plan_.classes; ++c)
      out.logits[i * plan_.classes + c] =
          static_cast<float>(mg::mix32(static_cast<uint32_t>(item * 31u + c)) % 1000) / 100.0f;
  }
  if (b.stage == StageKind::Baseline) {
    size_t n = 0;
    for (const auto& s : plan_.mean_sites) n += plan_.steps * plan_.width(s);
    out.mean_sums.assign(n, static_cast<int64_t>(b.count) << 32);
    if (plan_.spec.baseline.self_similarity)
      out.self_distance.assign(static_cast<size_t>(b.count * plan_.L * plan_.L), 1.0);
  }
  return out;
}

}  // namespace mg::sweep
