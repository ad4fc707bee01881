#include "musicgen/hook_site.h"

#include <cctype>
#include <sstream>
#include <tuple>

#include "musicgen/errors.h"

namespace mg {
namespace {

bool parse_index(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  *out = std::stoll(s);
  return true;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) parts.push_back(cur);
  if (!s.empty() && s.back() == sep) parts.push_back("");
  return parts;
}

}  // namespace

std::string HookSite::name() const {
  std::string s = "layers." + std::to_string(layer) + ".";
  switch (kind) {
    case SiteKind::SelfAttn:
      return s + "self_attn";
    case SiteKind::CrossAttn:
      return s + "cross_attn";
    case SiteKind::Mlp:
      return s + "mlp";
    case SiteKind::LayerOut:
      return s + "out";
    case SiteKind::SelfAttnHead:
      return s + "self_attn.head." + std::to_string(head);
    case SiteKind::CrossAttnHead:
      return s + "cross_attn.head." + std::to_string(head);
  }
  return s;
}

bool HookSite::operator<(const HookSite& o) const {
  return std::make_tuple(layer, static_cast<int>(kind), head) <
         std::make_tuple(o.layer, static_cast<int>(o.kind), o.head);
}

HookSite HookSite::parse(const std::string& text, int64_t num_layers, int64_t num_heads,
                         const std::string& origin) {
  const std::string fix =
      "expected layers.{i}.(self_attn|cross_attn|mlp|out) or "
      "layers.{i}.(self_attn|cross_attn).head.{h}";
  // Errors quote the name, cut: it may come from a long flag or a lying file.
  const std::string shown = text.size() <= 200 ? text : printable(text, 200);
  auto parts = split(text, '.');
  HookSite site;
  if (parts.size() < 3 || parts[0] != "layers" || !parse_index(parts[1], &site.layer))
    throw InputError(origin, shown, "not a hook site name", fix);
  const std::string& comp = parts[2];
  if (parts.size() == 3) {
    if (comp == "self_attn")
      site.kind = SiteKind::SelfAttn;
    else if (comp == "cross_attn")
      site.kind = SiteKind::CrossAttn;
    else if (comp == "mlp")
      site.kind = SiteKind::Mlp;
    else if (comp == "out")
      site.kind = SiteKind::LayerOut;
    else
      throw InputError(origin, shown, "unknown component '" + printable(comp, 40) + "'", fix);
  } else if (parts.size() == 5 && parts[3] == "head" && parse_index(parts[4], &site.head) &&
             (comp == "self_attn" || comp == "cross_attn")) {
    site.kind = comp == "self_attn" ? SiteKind::SelfAttnHead : SiteKind::CrossAttnHead;
  } else {
    throw InputError(origin, shown, "not a hook site name", fix);
  }
  if (num_layers >= 0 && site.layer >= num_layers)
    throw InputError(origin, shown,
                     "layer " + std::to_string(site.layer) + " is past the model's " +
                         std::to_string(num_layers) + " layers",
                     "layers count from 0");
  if (site.is_head() && num_heads >= 0 && site.head >= num_heads)
    throw InputError(origin, shown,
                     "head " + std::to_string(site.head) + " is past the model's " +
                         std::to_string(num_heads) + " heads",
                     "heads count from 0");
  return site;
}

std::vector<HookSite> all_sites(int64_t num_layers, int64_t num_heads, bool with_heads) {
  std::vector<HookSite> out;
  for (int64_t i = 0; i < num_layers; ++i) {
    for (SiteKind k : {SiteKind::SelfAttn, SiteKind::CrossAttn, SiteKind::Mlp, SiteKind::LayerOut})
      out.push_back(HookSite{i, k, -1});
    if (with_heads)
      for (SiteKind k : {SiteKind::SelfAttnHead, SiteKind::CrossAttnHead})
        for (int64_t h = 0; h < num_heads; ++h) out.push_back(HookSite{i, k, h});
  }
  return out;
}

const char* op_name(InterventionOp op) {
  switch (op) {
    case InterventionOp::Replace:
      return "replace";
    case InterventionOp::Adjust:
      return "adjust";
    case InterventionOp::Add:
      return "add";
    case InterventionOp::Scale:
      return "scale";
    case InterventionOp::Zero:
      return "zero";
  }
  return "?";
}

bool parse_op(const std::string& s, InterventionOp* out) {
  for (InterventionOp op : {InterventionOp::Replace, InterventionOp::Adjust, InterventionOp::Add,
                            InterventionOp::Scale, InterventionOp::Zero})
    if (s == op_name(op)) {
      *out = op;
      return true;
    }
  return false;
}

}  // namespace mg
