#include "musicgen/hook_runner.h"

#include <algorithm>

#include "musicgen/errors.h"

namespace mg {
namespace {

// The rows of a [steps, width] (or [width]) value for steps s0 .. s0+n-1, as a
// [n, width] tensor (or [width] for a step-independent value, which broadcasts).
at::Tensor value_at_steps(const at::Tensor& v, int64_t s0, int64_t n) {
  if (v.dim() == 1) return v;
  const int64_t T = v.size(0);
  if (s0 + n <= T) return v.narrow(0, s0, n);
  // Steps past the stored means reuse the last one (a longer generation than the
  // one the means came from).
  auto idx = at::clamp_max(at::arange(s0, s0 + n, v.options().dtype(at::kLong)), T - 1);
  return v.index_select(0, idx);
}

}  // namespace

HookRunner::HookRunner(std::vector<Intervention> interventions,
                       const std::vector<CaptureRequest>& captures, int64_t batch, int64_t steps,
                       int64_t hidden, int64_t head_dim, const at::TensorOptions& options)
    : batch_(batch), head_dim_(head_dim) {
  int64_t max_layer = -1;
  for (auto& iv : interventions) {
    if (iv.row < 0 || iv.row >= batch)
      throw InputError(
          "intervention", iv.site.name(),
          "row " + std::to_string(iv.row) + " outside the batch of " + std::to_string(batch));
    const int64_t width = iv.site.is_head() ? head_dim : hidden;
    for (at::Tensor* t : {&iv.desired, &iv.original}) {
      if (!t->defined()) continue;
      if (t->size(-1) != width || t->dim() > 2)
        throw InputError("intervention", iv.site.name(),
                         "value has width " + std::to_string(t->size(-1)) + ", the site has " +
                             std::to_string(width));
      *t = t->to(options);
    }
    const bool needs_desired = iv.op == InterventionOp::Replace ||
                               iv.op == InterventionOp::Adjust || iv.op == InterventionOp::Add;
    if (needs_desired && !iv.desired.defined())
      throw InputError("intervention", iv.site.name(),
                       std::string(op_name(iv.op)) + " needs a value");
    if (iv.op == InterventionOp::Adjust && !iv.original.defined())
      throw InputError("intervention", iv.site.name(), "adjust needs the original mean");
    max_layer = std::max(max_layer, iv.site.layer);
    sites_[iv.site].interventions.push_back(std::move(iv));
  }
  for (const auto& req : captures) {
    const int64_t width = req.site.is_head() ? head_dim : hidden;
    Capture c{req, {}, 0};
    if (req.mode == CaptureMode::PerStep)
      c.buffer = at::zeros({2 * batch, steps, width}, options);
    else if (req.mode == CaptureMode::CondRowSumFixed)
      c.buffer = at::zeros({steps, width}, options.dtype(at::kLong));
    else
      c.buffer = at::zeros({2 * batch, width}, options.dtype(at::kDouble));
    captures_.push_back(std::move(c));
    sites_[req.site].captures.push_back(captures_.size() - 1);
    max_layer = std::max(max_layer, req.site.layer);
  }
  layer_mask_.assign(static_cast<size_t>(max_layer + 1), 0);
  for (const auto& kv : sites_)
    layer_mask_[kv.first.layer] |= 1u << static_cast<int>(kv.first.kind);
}

void HookRunner::apply(const Intervention& iv, at::Tensor& x, int64_t step0) {
  const int64_t n = x.size(1);
  // The positions of this call that fall in the step window.
  const int64_t j0 = std::max<int64_t>(0, iv.window.t0 - step0);
  const int64_t j1 = std::min<int64_t>(n, iv.window.t1 - step0);
  if (j0 >= j1) return;
  at::Tensor target = x;
  if (iv.site.is_head()) target = x.narrow(2, iv.site.head * head_dim_, head_dim_);
  for (int64_t row : {iv.row, batch_ + iv.row}) {
    if (row != iv.row && !iv.both_halves) break;
    at::Tensor seg = target.select(0, row).narrow(0, j0, j1 - j0);
    switch (iv.op) {
      case InterventionOp::Replace:
        seg.copy_(value_at_steps(iv.desired, step0 + j0, j1 - j0).expand_as(seg));
        break;
      case InterventionOp::Adjust:
        seg.add_(value_at_steps(iv.desired, step0 + j0, j1 - j0) -
                 value_at_steps(iv.original, step0 + j0, j1 - j0));
        break;
      case InterventionOp::Add:
        seg.add_(value_at_steps(iv.desired, step0 + j0, j1 - j0));
        break;
      case InterventionOp::Scale:
        seg.mul_(iv.factor);
        break;
      case InterventionOp::Zero:
        seg.zero_();
        break;
    }
  }
}

void HookRunner::capture(Capture& c, const at::Tensor& x_all, int64_t step0) {
  at::Tensor x = x_all;
  if (c.req.site.is_head()) x = x_all.narrow(2, c.req.site.head * head_dim_, head_dim_);
  const int64_t n = x.size(1);
  if (c.req.mode == CaptureMode::PerStep) {
    const int64_t steps = c.buffer.size(1);
    const int64_t m = std::min(n, steps - step0);
    if (m > 0) c.buffer.narrow(1, step0, m).copy_(x.narrow(1, 0, m));
    return;
  }
  if (c.req.mode == CaptureMode::CondRowSumFixed) {
    const int64_t steps = c.buffer.size(0);
    const int64_t m = std::min(n, steps - step0);
    if (m <= 0) return;
    // Round each value to fixed point first, then sum the integers: exact.
    at::Tensor fixed =
        at::round(x.narrow(0, 0, batch_).narrow(1, 0, m).to(at::kDouble) * kFixedPointScale)
            .to(at::kLong)
            .sum(0);
    c.buffer.narrow(0, step0, m).add_(fixed);
    return;
  }
  const int64_t j0 = std::max<int64_t>(0, c.req.window.t0 - step0);
  const int64_t j1 = std::min<int64_t>(n, c.req.window.t1 - step0);
  if (j0 >= j1) return;
  c.buffer.add_(x.narrow(1, j0, j1 - j0).to(at::kDouble).sum(1));
  c.count += j1 - j0;
}

void HookRunner::at(int64_t layer, SiteKind kind, at::Tensor& x, int64_t step0) {
  const bool heads = kind == SiteKind::SelfAttnHead || kind == SiteKind::CrossAttnHead;
  // Interventions first, then captures: a capture at an intervened site records
  // what flows on (the intervened value).
  for (auto it = sites_.lower_bound(HookSite{layer, kind, heads ? 0 : -1});
       it != sites_.end() && it->first.layer == layer && it->first.kind == kind; ++it) {
    for (const auto& iv : it->second.interventions) apply(iv, x, step0);
    for (size_t ci : it->second.captures) capture(captures_[ci], x, step0);
  }
}

std::vector<CaptureResult> HookRunner::take_captures() {
  std::vector<CaptureResult> out;
  for (auto& c : captures_)
    out.push_back(CaptureResult{c.req.site, c.req.mode, std::move(c.buffer), c.count});
  captures_.clear();
  return out;
}

}  // namespace mg
