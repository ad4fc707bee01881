// T5 unigram tokenizer read from a Hugging Face tokenizer.json; see tokenizer.h.
//
// The reference is the Rust `tokenizers` library (huggingface/tokenizers), and
// its quirks are reproduced on purpose, because the ids must be the ones the
// checkpoint was trained with:
//  - The Precompiled normalizer walks extended grapheme clusters (UAX #29, the
//    Unicode 17 tables of the unicode-segmentation crate it links): a cluster
//    shorter than 6 bytes is looked up whole and replaced by the *shortest*
//    matching charsmap entry; otherwise each character is looked up alone.
//    So "A" + U+0301 after a full-width "Ａ" is dropped, exactly as HF drops it.
//  - Text offsets ("alignments") are tracked the way HF's NormalizedString does,
//    because Metaspace's prepend_scheme "first" depends on them.
//  - Unigram Viterbi keeps the first best path on ties and fuses consecutive
//    unknown characters into one <unk>.
#include "musicgen/tokenizer.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <unordered_set>
#include <utility>

#include "musicgen/errors.h"

namespace mg {
namespace {

using json = nlohmann::json;

constexpr const char* kFixFile =
    "use the tokenizer.json that ships with the checkpoint (e.g. facebook/musicgen-small)";

// ---------------------------------------------------------------------------
// UTF-8. Every string handled below is valid UTF-8: input text is checked on
// entry, JSON strings are checked by the parser, the charsmap blob at load.

size_t utf8_len(unsigned char lead) {
  return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

// Decodes the character at s[i]; *len receives its byte length (never past the end).
char32_t utf8_at(std::string_view s, size_t i, size_t* len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  size_t n = std::min(utf8_len(b(0)), s.size() - i);
  *len = n;
  switch (n) {
    case 1:
      return b(0);
    case 2:
      return ((b(0) & 0x1Fu) << 6) | (b(1) & 0x3Fu);
    case 3:
      return ((b(0) & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
    default:
      return ((b(0) & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) |
             (b(3) & 0x3Fu);
  }
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

size_t utf8_char_len(char32_t c) { return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }

// Returns the byte offset of the first ill-formed sequence, or npos.
size_t find_invalid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    char32_t min;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 2, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4, min = 0x10000;
    } else {
      return i;
    }
    if (i + n > s.size()) return i;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    size_t len;
    const char32_t cp = utf8_at(s, i, &len);
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n;
  }
  return std::string_view::npos;
}

size_t count_chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// ---------------------------------------------------------------------------
// Unicode properties (tables at the end of this file).

// Rust's char::is_whitespace and the regex crate's \s: the White_Space property.
bool is_white_space(char32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

// Grapheme_Cluster_Break with the Indic_Conjunct_Break refinements folded in.
enum class Gcb : char {
  kAny = '.',
  kCR = 'r',
  kLF = 'n',
  kControl = 'c',
  kExtend = 'e',      // Extend, InCB=None
  kExtendInCB = 'x',  // Extend, InCB=Extend
  kLinker = 'k',      // Extend, InCB=Linker
  kZWJ = 'z',         // (InCB=Extend)
  kRI = 'i',
  kPrepend = 'p',
  kSpacingMark = 's',
  kL = 'L',
  kV = 'V',
  kT = 'T',
  kLV = 'H',
  kLVT = 'J',
  kExtPict = 'P',
  kConsonant = 'C',  // Other, InCB=Consonant
};
Gcb grapheme_class(char32_t c);
void append_lowercase(char32_t c, std::vector<std::pair<char32_t, int>>& out, bool* changed);

// Calls f(begin, end) for each extended grapheme cluster of s, following the
// rules of unicode-segmentation (UAX #29 incl. GB9c) in one forward pass.
template <class F>
void for_each_grapheme(std::string_view s, F&& f) {
  if (s.empty()) return;
  int incb = 0;    // 1: Consonant [InCB Extend]*, 2: ... with at least one Linker since
  int emoji = 0;   // 1: ExtPict Extend*, 2: ExtPict Extend* ZWJ
  size_t ris = 0;  // Regional_Indicators right before the cursor
  const auto is_extend = [](Gcb g) {
    return g == Gcb::kExtend || g == Gcb::kExtendInCB || g == Gcb::kLinker;
  };
  const auto consume = [&](Gcb g) {
    incb = g == Gcb::kConsonant                        ? 1
           : g == Gcb::kLinker                         ? (incb ? 2 : 0)
           : (g == Gcb::kExtendInCB || g == Gcb::kZWJ) ? incb
                                                       : 0;
    emoji = g == Gcb::kExtPict ? 1
            : is_extend(g)     ? (emoji == 1 ? 1 : 0)
            : g == Gcb::kZWJ   ? (emoji == 1 ? 2 : 0)
                               : 0;
    ris = g == Gcb::kRI ? ris + 1 : 0;
  };
  const auto is_break = [&](Gcb a, Gcb b) {
    const auto ctl = [](Gcb g) { return g == Gcb::kControl || g == Gcb::kCR || g == Gcb::kLF; };
    if (a == Gcb::kCR && b == Gcb::kLF) return false;  // GB3
    if (ctl(a) || ctl(b)) return true;                 // GB4, GB5
    if (a == Gcb::kL && (b == Gcb::kL || b == Gcb::kV || b == Gcb::kLV || b == Gcb::kLVT))
      return false;                                                                       // GB6
    if ((a == Gcb::kLV || a == Gcb::kV) && (b == Gcb::kV || b == Gcb::kT)) return false;  // GB7
    if ((a == Gcb::kLVT || a == Gcb::kT) && b == Gcb::kT) return false;                   // GB8
    if (is_extend(b) || b == Gcb::kZWJ) return false;                                     // GB9
    if (b == Gcb::kSpacingMark || a == Gcb::kPrepend) return false;  // GB9a, GB9b
    if (b == Gcb::kConsonant) return incb != 2;                      // GB9c
    if (a == Gcb::kZWJ && b == Gcb::kExtPict) return emoji != 2;     // GB11
    if (a == Gcb::kRI && b == Gcb::kRI) return ris % 2 == 0;         // GB12, GB13
    return true;
  };
  size_t len;
  Gcb prev = grapheme_class(utf8_at(s, 0, &len));
  consume(prev);
  size_t start = 0;
  for (size_t i = len; i < s.size(); i += len) {
    const Gcb g = grapheme_class(utf8_at(s, i, &len));
    if (is_break(prev, g)) {
      f(start, i);
      start = i;
    }
    consume(g);
    prev = g;
  }
  f(start, s.size());
}

// ---------------------------------------------------------------------------
// NormStr: HF's NormalizedString reduced to what decides ids. HF keeps, for each
// byte of the normalized text, the span of the original text it came from; only
// the span starts matter here (a split "starts the text" for prepend_scheme
// "first" when its original offset is 0), and they are updated with HF's exact
// arithmetic, quirks included.

struct Edit {
  char32_t c;
  int change;  // 0: replaces the next old char, >0: inserted, <0: also removes |change| old chars
};

struct NormStr {
  std::string text;
  std::vector<size_t> align;  // original start of each byte of `text`, relative to `shift`
  size_t shift = 0;           // offset of this piece in the input text

  static NormStr original(std::string_view s) {
    NormStr r;
    r.text.assign(s.data(), s.size());
    r.align.resize(s.size());
    size_t len;
    for (size_t i = 0; i < s.size(); i += len) {
      utf8_at(s, i, &len);
      std::fill_n(r.align.begin() + static_cast<std::ptrdiff_t>(i), len, i);
    }
    return r;
  }

  NormStr slice(size_t b, size_t e) const {
    NormStr r;
    r.text = text.substr(b, e - b);
    const size_t base = b < e ? align[b] : b;
    r.align.assign(align.begin() + static_cast<std::ptrdiff_t>(b),
                   align.begin() + static_cast<std::ptrdiff_t>(e));
    for (size_t& a : r.align) a -= base;  // wraps like Rust's release build if ever non-monotonic
    r.shift = shift + base;
    return r;
  }

  size_t align_or_zero(size_t i) const { return i < align.size() ? align[i] : 0; }

  // NormalizedString::transform_range over text[b, e).
  void transform_range(size_t b, size_t e, const std::vector<Edit>& dest, size_t initial_offset) {
    std::vector<size_t> old_lens;  // byte lengths of the replaced chars
    size_t len;
    for (size_t i = b; i < e; i += len) {
      utf8_at(text, i, &len);
      old_lens.push_back(len);
    }
    size_t next_old = std::min(initial_offset, old_lens.size());
    size_t offset = b;
    for (size_t k = 0; k < next_old; ++k) offset += old_lens[k];
    std::string new_text;
    std::vector<size_t> new_align;
    for (const Edit& d : dest) {
      const size_t a =
          d.change > 0 ? (offset < 1 ? 0 : align_or_zero(offset - 1)) : align_or_zero(offset);
      if (d.change <= 0 && next_old < old_lens.size()) offset += old_lens[next_old++];
      for (int r = 0; r < -d.change && next_old < old_lens.size(); ++r)
        offset += old_lens[next_old++];
      append_utf8(new_text, d.c);
      new_align.insert(new_align.end(), utf8_char_len(d.c), a);
    }
    text.replace(b, e - b, new_text);
    align.erase(align.begin() + static_cast<std::ptrdiff_t>(b),
                align.begin() + static_cast<std::ptrdiff_t>(e));
    align.insert(align.begin() + static_cast<std::ptrdiff_t>(b), new_align.begin(),
                 new_align.end());
  }

  // NormalizedString::replace: every match [b, e) becomes `content`, whose chars
  // all take the alignment of the match's last byte.
  void replace(const std::vector<std::pair<size_t, size_t>>& matches, std::string_view content) {
    if (matches.empty()) return;
    std::string t;
    std::vector<size_t> al;
    size_t last = 0;
    for (auto [b, e] : matches) {
      t.append(text, last, b - last);
      al.insert(al.end(), align.begin() + static_cast<std::ptrdiff_t>(last),
                align.begin() + static_cast<std::ptrdiff_t>(b));
      t.append(content);
      al.insert(al.end(), content.size(), e < 1 ? 0 : align[e - 1]);
      last = e;
    }
    t.append(text, last, std::string::npos);
    al.insert(al.end(), align.begin() + static_cast<std::ptrdiff_t>(last), align.end());
    text = std::move(t);
    align = std::move(al);
  }

  // NormalizedString::prepend (a no-op on empty text).
  void prepend(std::string_view s) {
    if (text.empty()) return;
    size_t first_len;
    const char32_t first = utf8_at(text, 0, &first_len);
    std::vector<Edit> dest;
    size_t len;
    for (size_t i = 0; i < s.size(); i += len) dest.push_back({utf8_at(s, i, &len), i != 0});
    dest.push_back({first, 1});
    transform_range(0, first_len, dest, 0);
  }

  // NormalizedString::lrstrip, including its use of the byte length where a char
  // count is meant (it only moves alignments).
  void strip(bool left, bool right) {
    std::vector<char32_t> chars;
    size_t len;
    for (size_t i = 0; i < text.size(); i += len) chars.push_back(utf8_at(text, i, &len));
    size_t lead = 0, trail = 0;
    while (left && lead < chars.size() && is_white_space(chars[lead])) ++lead;
    while (right && trail < chars.size() && is_white_space(chars[chars.size() - 1 - trail]))
      ++trail;
    if (lead == 0 && trail == 0) return;
    std::vector<Edit> dest;
    for (size_t i = 0; i < chars.size(); ++i) {
      if (i < lead || i >= chars.size() - trail) continue;
      dest.push_back({chars[i], i == text.size() - trail - 1 ? -static_cast<int>(trail) : 0});
    }
    transform_range(0, text.size(), dest, lead);
  }

  void lowercase() {
    std::vector<std::pair<char32_t, int>> out;
    bool changed = false;
    size_t len;
    for (size_t i = 0; i < text.size(); i += len)
      append_lowercase(utf8_at(text, i, &len), out, &changed);
    if (!changed) return;  // transform with identity edits would change nothing
    std::vector<Edit> dest;
    dest.reserve(out.size());
    for (auto [c, change] : out) dest.push_back({c, change});
    transform_range(0, text.size(), dest, 0);
  }
};

// Matches of a char predicate, as HF's `impl Pattern for Fn(char) -> bool`:
// (begin, end, is_match) segments covering the text, one per matching char.
struct Segment {
  size_t b, e;
  bool match;
};
template <class Pred>
std::vector<Segment> char_segments(std::string_view s, Pred pred) {
  std::vector<Segment> out;
  if (s.empty()) return {{0, 0, false}};
  size_t last = 0, len;
  for (size_t i = 0; i < s.size(); i += len) {
    if (pred(utf8_at(s, i, &len))) {
      if (last < i) out.push_back({last, i, false});
      out.push_back({i, i + len, true});
      last = i + len;
    }
  }
  if (s.size() > last) out.push_back({last, s.size(), false});
  return out;
}

// ---------------------------------------------------------------------------
// Replace patterns. tokenizers compiles both kinds with Oniguruma; the files we
// target only use a literal string or one character with a counted repetition
// (' {2,}'), which is what is implemented. Anything else is refused at load.

struct Pattern {
  std::string literal;  // non-empty: match this string
  char32_t atom = 0;    // else: `atom` repeated [min, max] times, greedy
  size_t min = 1, max = std::numeric_limits<size_t>::max();

  // Leftmost, non-overlapping matches.
  std::vector<std::pair<size_t, size_t>> find(std::string_view s) const {
    std::vector<std::pair<size_t, size_t>> out;
    if (!literal.empty()) {
      for (size_t p = s.find(literal); p != std::string_view::npos;
           p = s.find(literal, p + literal.size()))
        out.emplace_back(p, p + literal.size());
      return out;
    }
    size_t i = 0, len;
    while (i < s.size()) {
      size_t run = 0, e = i;
      while (e < s.size() && run < max && utf8_at(s, e, &len) == atom) e += len, ++run;
      if (run >= min) {
        out.emplace_back(i, e);
        i = e;
      } else {
        utf8_at(s, i, &len);
        i += std::max<size_t>(len, e - i);  // no match can start inside a short run
      }
    }
    return out;
  }
};

// ---------------------------------------------------------------------------
// Precompiled: sentencepiece's precompiled_charsmap = u32 trie size in bytes,
// the Darts-clone double-array trie (u32 units), then NUL-terminated
// replacement strings the trie's values point into.

class CharsMap {
 public:
  // Returns an error message, or "" on success.
  std::string load(const std::string& blob) {
    if (blob.size() < 4) return "is shorter than its 4-byte header";
    uint32_t trie_bytes = 0;
    for (int k = 3; k >= 0; --k) trie_bytes = (trie_bytes << 8) | static_cast<uint8_t>(blob[k]);
    const size_t n_units = trie_bytes / 4;  // as HF: a remainder belongs to the strings
    if (n_units == 0) return "has an empty trie";
    if (n_units > (blob.size() - 4) / 4) return "declares a trie larger than the data";
    units_.resize(n_units);
    for (size_t u = 0; u < n_units; ++u) {
      uint32_t v = 0;
      for (int k = 3; k >= 0; --k) v = (v << 8) | static_cast<uint8_t>(blob[4 + 4 * u + k]);
      units_[u] = v;
    }
    strings_ = blob.substr(4 + 4 * n_units);
    if (find_invalid_utf8(strings_) != std::string::npos)
      return "has replacement strings that are not valid UTF-8";
    return validate();
  }

  // HF's Precompiled::transform: the replacement of the *shortest* key that is
  // a prefix of `chunk` (results[0] of the common-prefix search).
  std::optional<std::string_view> first_match(std::string_view chunk) const {
    uint64_t pos = offset(units_[0]);
    for (char ch : chunk) {
      const auto c = static_cast<uint8_t>(ch);
      if (c == 0) break;
      pos ^= c;
      if (pos >= units_.size() || label(units_[pos]) != c) return std::nullopt;
      const uint32_t unit = units_[pos];
      pos ^= offset(unit);
      if (has_leaf(unit)) {
        if (pos >= units_.size()) return std::nullopt;
        return string_at(value(units_[pos]));
      }
    }
    return std::nullopt;
  }

 private:
  static bool has_leaf(uint32_t u) { return (u >> 8) & 1; }
  static uint32_t value(uint32_t u) { return u & ((1u << 31) - 1); }
  static uint32_t label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
  static uint64_t offset(uint32_t u) { return uint64_t{u >> 10} << ((u & (1u << 9)) >> 6); }

  std::string_view string_at(size_t i) const {
    if (i > strings_.size()) return {};  // unreachable once validate() passed
    const size_t end = std::min(strings_.find('\0', i), strings_.size());
    return std::string_view(strings_).substr(i, end - i);
  }

  // Walks every state reachable from the root and checks that each value
  // points at a character boundary of the strings, so that a corrupt map is
  // refused at load instead of failing on some later prompt.
  std::string validate() const {
    // base ^ label stays in base's block of 256, so bases past the last
    // block lead nowhere.
    const uint64_t limit = (units_.size() + 255) / 256 * 256;
    std::vector<bool> seen(limit);
    std::vector<uint64_t> todo{offset(units_[0])};
    while (!todo.empty()) {
      const uint64_t base = todo.back();
      todo.pop_back();
      if (base >= limit || seen[base]) continue;
      seen[base] = true;
      for (uint32_t c = 1; c < 256; ++c) {
        const uint64_t pos = base ^ c;
        if (pos >= units_.size() || label(units_[pos]) != c) continue;
        const uint64_t child = pos ^ offset(units_[pos]);
        if (has_leaf(units_[pos]) && child < units_.size()) {
          const size_t v = value(units_[child]);
          if (v > strings_.size() ||
              (v < strings_.size() && (static_cast<uint8_t>(strings_[v]) & 0xC0) == 0x80))
            return "has a trie value " + std::to_string(v) +
                   " outside its replacement strings (corrupt trie)";
        }
        todo.push_back(child);
      }
    }
    return "";
  }

  std::vector<uint32_t> units_;
  std::string strings_;
};

// The `replace` helper of tokenizers' precompiled.rs: the new chars replace the
// old ones in order; extra new chars count as inserted, missing ones are
// removed together with the last edit so far.
void push_replacement(std::vector<Edit>& edits, std::string_view old_part,
                      std::string_view new_part) {
  size_t len;
  for (size_t i = 0; i < new_part.size(); i += len)
    edits.push_back({utf8_at(new_part, i, &len), 0});
  const long diff =
      static_cast<long>(count_chars(new_part)) - static_cast<long>(count_chars(old_part));
  if (diff > 0) {
    for (long k = 0; k < diff; ++k) edits[edits.size() - 1 - static_cast<size_t>(k)].change = 1;
  } else if (diff < 0 && !edits.empty()) {
    edits.back().change += static_cast<int>(diff);
  }
}

void precompiled_normalize(const CharsMap& map, NormStr& s) {
  std::vector<Edit> edits;
  edits.reserve(s.text.size());
  bool modified = false;
  for_each_grapheme(s.text, [&](size_t b, size_t e) {
    const std::string_view g = std::string_view(s.text).substr(b, e - b);
    if (g.size() < 6) {
      if (auto norm = map.first_match(g)) {
        modified = true;
        push_replacement(edits, g, *norm);
        return;
      }
    }
    size_t len;
    for (size_t i = 0; i < g.size(); i += len) {
      const char32_t c = utf8_at(g, i, &len);
      if (auto norm = map.first_match(g.substr(i, len))) {
        modified = true;
        push_replacement(edits, g.substr(i, len), *norm);
      } else {
        edits.push_back({c, 0});
      }
    }
  });
  if (modified) s.transform_range(0, s.text.size(), edits, 0);
}

// ---------------------------------------------------------------------------
// Pipeline steps.

struct Normalizer {
  enum class Kind { kPrecompiled, kReplace, kStrip, kLowercase, kPrepend } kind;
  std::shared_ptr<const CharsMap> charsmap;
  Pattern pattern;
  std::string content;  // Replace: replacement; Prepend: the prefix
  bool left = false, right = false;

  void apply(NormStr& s) const {
    switch (kind) {
      case Kind::kPrecompiled:
        precompiled_normalize(*charsmap, s);
        break;
      case Kind::kReplace:
        s.replace(pattern.find(s.text), content);
        break;
      case Kind::kStrip:
        s.strip(left, right);
        break;
      case Kind::kLowercase:
        s.lowercase();
        break;
      case Kind::kPrepend:
        s.prepend(content);
        break;
    }
  }
};

enum class PrependScheme { kAlways, kFirst, kNever };

struct PreTokenizer {
  enum class Kind { kWhitespaceSplit, kMetaspace } kind;
  char32_t replacement = 0;
  std::string rep;  // replacement as UTF-8
  PrependScheme scheme = PrependScheme::kAlways;
  bool split = true;

  void apply(NormStr s, std::vector<NormStr>& out) const {
    const auto keep = [&](size_t b, size_t e) {
      if (b < e) out.push_back(s.slice(b, e));  // HF drops empty splits
    };
    if (kind == Kind::kWhitespaceSplit) {
      for (const Segment& g : char_segments(s.text, is_white_space))
        if (!g.match) keep(g.b, g.e);
      return;
    }
    std::vector<std::pair<size_t, size_t>> spaces;
    for (size_t i = 0; i < s.text.size(); ++i)
      if (s.text[i] == ' ') spaces.emplace_back(i, i + 1);
    s.replace(spaces, rep);
    const bool starts = s.text.compare(0, rep.size(), rep) == 0;
    if (!starts &&
        (scheme == PrependScheme::kAlways || (scheme == PrependScheme::kFirst && s.shift == 0)))
      s.prepend(rep);
    if (!split) {  // HF returns the string itself here, not a slice of it
      if (!s.text.empty()) out.push_back(std::move(s));
      return;
    }
    // Split on the replacement, each one merged with what follows it.
    const char32_t r = replacement;
    std::vector<Segment> segs = char_segments(s.text, [r](char32_t c) { return c == r; });
    std::vector<Segment> merged;
    bool next_is_match = false;
    for (auto it = segs.rbegin(); it != segs.rend(); ++it) {
      if (it->match && !next_is_match && !merged.empty()) {
        merged.back().b = it->b;
      } else {
        merged.push_back(*it);
      }
      next_is_match = it->match;
    }
    for (auto it = merged.rbegin(); it != merged.rend(); ++it) keep(it->b, it->e);
  }
};

// Byte trie over the vocabulary pieces, flattened: node n's children are
// labels_/child_[first_[n], first_[n + 1]), sorted by label.
class PieceTrie {
 public:
  void build(const std::vector<std::string>& pieces) {
    std::vector<std::vector<std::pair<uint8_t, uint32_t>>> kids(1);
    std::vector<int32_t> ids(1, -1);
    for (size_t p = 0; p < pieces.size(); ++p) {
      uint32_t node = 0;
      for (char ch : pieces[p]) {
        const auto c = static_cast<uint8_t>(ch);
        auto& k = kids[node];
        auto it = std::lower_bound(k.begin(), k.end(), std::make_pair(c, uint32_t{0}));
        if (it == k.end() || it->first != c) {
          it = k.insert(it, {c, static_cast<uint32_t>(kids.size())});
          kids.emplace_back();
          ids.push_back(-1);
        }
        node = it->second;
      }
      if (node != 0) ids[node] = static_cast<int32_t>(p);  // later duplicates win, as in HF
    }
    first_.assign(1, 0);
    for (const auto& k : kids) {
      for (auto [c, child] : k) labels_.push_back(c), child_.push_back(child);
      first_.push_back(static_cast<uint32_t>(labels_.size()));
    }
    ids_ = std::move(ids);
  }

  // Calls f(end, id) for every piece that is a prefix of s[begin...], shortest first.
  template <class F>
  void prefixes(std::string_view s, size_t begin, F&& f) const {
    uint32_t node = 0;
    for (size_t i = begin; i < s.size(); ++i) {
      if (!child(node, static_cast<uint8_t>(s[i]), &node)) return;
      if (ids_[node] >= 0) f(i + 1, ids_[node]);
    }
  }

  int32_t find(std::string_view s) const {
    uint32_t node = 0;
    for (char c : s)
      if (!child(node, static_cast<uint8_t>(c), &node)) return -1;
    return s.empty() ? -1 : ids_[node];
  }

 private:
  bool child(uint32_t node, uint8_t c, uint32_t* out) const {
    const auto b = labels_.begin() + first_[node], e = labels_.begin() + first_[node + 1];
    const auto it = std::lower_bound(b, e, c);
    if (it == e || *it != c) return false;
    *out = child_[static_cast<size_t>(it - labels_.begin())];
    return true;
  }
  std::vector<uint32_t> first_;
  std::vector<uint8_t> labels_;
  std::vector<uint32_t> child_;
  std::vector<int32_t> ids_;
};

struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool lstrip = false, rstrip = false, normalized = false;
};

// Leftmost-longest matching of added tokens (HF uses an Aho-Corasick automaton
// with MatchKind::LeftmostLongest).
struct AddedMatcher {
  std::vector<std::string> patterns;
  std::vector<AddedToken> tokens;
  std::array<std::vector<uint32_t>, 256> by_first_byte;  // longest first

  void add(std::string pattern, const AddedToken& t) {
    patterns.push_back(std::move(pattern));
    tokens.push_back(t);
  }
  void finish() {
    for (uint32_t i = 0; i < patterns.size(); ++i)
      by_first_byte[static_cast<uint8_t>(patterns[i][0])].push_back(i);
    for (auto& v : by_first_byte)
      std::stable_sort(v.begin(), v.end(), [&](uint32_t a, uint32_t b) {
        return patterns[a].size() > patterns[b].size();
      });
  }

  struct Part {
    size_t b, e;
    int64_t id;  // -1: plain text
  };
  // AddedVocabulary::find_matches: the text cut into plain parts and tokens.
  std::vector<Part> split(std::string_view s) const {
    if (s.empty()) return {{0, 0, -1}};
    if (patterns.empty()) return {{0, s.size(), -1}};
    std::vector<Part> out;
    size_t done = 0;  // end of the last emitted part
    for (size_t pos = 0; pos < s.size();) {
      int64_t hit = -1;
      for (uint32_t i : by_first_byte[static_cast<uint8_t>(s[pos])])
        if (s.compare(pos, patterns[i].size(), patterns[i]) == 0) {
          hit = i;
          break;
        }
      if (hit < 0) {
        ++pos;
        continue;
      }
      const AddedToken& t = tokens[static_cast<size_t>(hit)];
      size_t b = pos, e = pos + patterns[static_cast<size_t>(hit)].size();
      pos = e;  // the automaton resumes after the raw match
      if (t.lstrip) {
        size_t ws = b, len;
        while (ws > 0) {  // start of the white space run ending at b
          size_t k = ws - 1;
          while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
          if (!is_white_space(utf8_at(s, k, &len))) break;
          ws = k;
        }
        b = std::max(ws, done);
      }
      if (t.rstrip) {
        size_t len;
        while (e < s.size() && is_white_space(utf8_at(s, e, &len))) e += len;
      }
      if (done < b) out.push_back({done, b, -1});
      out.push_back({b, e, t.id});
      done = e;
    }
    if (done != s.size()) out.push_back({done, s.size(), -1});
    return out;
  }
};

struct TemplateItem {
  bool is_sequence;
  std::vector<int64_t> ids;  // special token ids
};

}  // namespace

// ---------------------------------------------------------------------------

struct T5Tokenizer::Impl {
  std::string origin;
  std::vector<Normalizer> normalizers;
  std::vector<PreTokenizer> pre_tokenizers;
  // Unigram
  std::vector<std::string> pieces;
  std::vector<double> scores;
  PieceTrie trie;
  double min_score = 0;
  int64_t unk = -1;
  bool byte_fallback = false;
  // Added tokens
  std::vector<AddedToken> added;
  AddedMatcher raw_matcher, normalized_matcher;
  std::vector<TemplateItem> single;
  int64_t pad = 0, eos = -1;
  size_t n_ids = 0;

  int64_t token_to_id(std::string_view s) const {
    for (const AddedToken& t : added)
      if (t.content == s) return t.id;
    return trie.find(s);
  }

  void normalize(NormStr& s) const {
    for (const Normalizer& n : normalizers) n.apply(s);
  }

  // Unigram::encode_optimized + tokenize: Viterbi over the pieces; a char with
  // no single-char piece gets <unk> with score min_score - 10.
  void unigram(std::string_view s, std::vector<int64_t>& ids) const {
    struct Best {
      double score = 0;
      int64_t start = -1;
      int64_t id = 0;
    };
    const double unk_score = min_score - 10.0;
    std::vector<Best> best(s.size() + 1);
    size_t len;
    for (size_t pos = 0; pos < s.size(); pos += len) {
      utf8_at(s, pos, &len);
      const double base = best[pos].score;
      bool single_char = false;
      trie.prefixes(s, pos, [&](size_t end, int32_t id) {
        const double cand = scores[static_cast<size_t>(id)] + base;
        Best& t = best[end];
        if (t.start < 0 || cand > t.score) t = {cand, static_cast<int64_t>(pos), id};
        single_char |= end - pos == len;
      });
      if (!single_char) {
        Best& t = best[pos + len];
        if (t.start < 0 || unk_score + base > t.score) {
          if (unk < 0)
            throw InputError(origin, "model.unk_id",
                             "is null, but the text has a character outside the vocabulary",
                             "use a tokenizer.json whose Unigram model has an unk_id");
          t = {unk_score + base, static_cast<int64_t>(pos), unk};
        }
      }
    }
    // Walk back along the best path; consecutive <unk> nodes become one
    // token (fuse_unk), whose text is then looked up like any other.
    std::vector<std::pair<size_t, size_t>> spans;  // [begin, end), last first
    bool prev_unk = false;
    for (size_t end = s.size(); end > 0;) {
      const Best& n = best[end];
      const auto start = static_cast<size_t>(n.start);
      const bool is_unk = n.id == unk;
      if (is_unk && prev_unk) {
        spans.back().first = start;
      } else {
        spans.emplace_back(start, end);
      }
      prev_unk = is_unk;
      end = start;
    }
    for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
      const std::string_view piece = s.substr(it->first, it->second - it->first);
      const int32_t id = trie.find(piece);
      if (id >= 0) {
        ids.push_back(id);
        continue;
      }
      if (byte_fallback) {
        std::vector<int64_t> bytes;
        for (char c : piece) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>",
                        static_cast<unsigned>(static_cast<uint8_t>(c)));
          const int32_t b = trie.find(name);
          if (b < 0) break;
          bytes.push_back(b);
        }
        if (bytes.size() == piece.size()) {
          ids.insert(ids.end(), bytes.begin(), bytes.end());
          continue;
        }
      }
      if (unk < 0)
        throw InputError(origin, "model.unk_id",
                         "is null, but the text has a character outside the vocabulary",
                         "use a tokenizer.json whose Unigram model has an unk_id");
      ids.push_back(unk);
    }
  }

  std::vector<int64_t> encode(std::string_view text) const {
    if (const size_t bad = find_invalid_utf8(text); bad != std::string_view::npos)
      throw InputError("prompt", "", "is not valid UTF-8 (byte " + std::to_string(bad) + ")",
                       "write prompts in UTF-8");
    struct Split {
      NormStr s;
      int64_t token;  // -1: text still to tokenize
    };
    std::vector<Split> splits, next;
    const auto cut = [&](const NormStr& s, const AddedMatcher& m) {
      for (const auto& p : m.split(s.text))
        if (p.b < p.e) next.push_back({s.slice(p.b, p.e), p.id});
    };
    // 1. Added tokens that match the raw text; 2. normalize the rest, then the
    // added tokens that match normalized text.
    cut(NormStr::original(text), raw_matcher);
    splits.swap(next);
    for (Split& sp : splits) {
      if (sp.token >= 0) {
        next.push_back(std::move(sp));
        continue;
      }
      normalize(sp.s);
      cut(sp.s, normalized_matcher);
    }
    splits.swap(next);
    // 3. Pre-tokenizers, each over every split of the previous one.
    for (const PreTokenizer& p : pre_tokenizers) {
      next.clear();
      std::vector<NormStr> parts;
      for (Split& sp : splits) {
        if (sp.token >= 0) {
          next.push_back(std::move(sp));
          continue;
        }
        parts.clear();
        p.apply(std::move(sp.s), parts);
        for (NormStr& part : parts) next.push_back({std::move(part), -1});
      }
      splits.swap(next);
    }
    // 4. The model; 5. the template.
    std::vector<int64_t> ids;
    for (const Split& sp : splits) {
      if (sp.token >= 0) {
        ids.push_back(sp.token);
      } else {
        unigram(sp.s.text, ids);
      }
    }
    if (single.empty()) return ids;
    std::vector<int64_t> out;
    for (const TemplateItem& item : single)
      out.insert(out.end(), item.is_sequence ? ids.begin() : item.ids.begin(),
                 item.is_sequence ? ids.end() : item.ids.end());
    return out;
  }
};

namespace {

// ---------------------------------------------------------------------------
// Loading. Every failure names the file and the JSON field.

class Loader {
 public:
  static constexpr int kMaxDepth = 16;  // nested Sequences; real files use one level

  explicit Loader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& problem,
                         const std::string& fix = kFixFile) const {
    throw InputError(file_, field, problem, fix);
  }
  static std::string kind(const json& v) {
    return v.is_null()      ? "null"
           : v.is_boolean() ? "a boolean"
           : v.is_number()  ? "a number"
           : v.is_string()  ? "a string"
           : v.is_array()   ? "an array"
                            : "an object";
  }
  const json& object(const json& v, const std::string& field) const {
    if (!v.is_object()) fail(field, "must be a JSON object, not " + kind(v));
    return v;
  }
  const json& array(const json& v, const std::string& field) const {
    if (!v.is_array()) fail(field, "must be a JSON array, not " + kind(v));
    return v;
  }
  // Member `key` of object `obj` (at `field`); nullptr when absent or null.
  const json* get(const json& obj, const std::string& field, const char* key) const {
    object(obj, field);
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  const json& need(const json& obj, const std::string& field, const char* key) const {
    const json* v = get(obj, field, key);
    if (!v) fail(join(field, key), "is missing");
    return *v;
  }
  std::string str(const json& v, const std::string& field) const {
    if (!v.is_string()) fail(field, "must be a string, not " + kind(v));
    return v.get<std::string>();
  }
  bool boolean(const json& v, const std::string& field) const {
    if (!v.is_boolean()) fail(field, "must be true or false, not " + kind(v));
    return v.get<bool>();
  }
  double number(const json& v, const std::string& field) const {
    if (!v.is_number()) fail(field, "must be a number, not " + kind(v));
    const double d = v.get<double>();
    if (!std::isfinite(d)) fail(field, "must be finite");
    return d;
  }
  uint64_t index(const json& v, const std::string& field) const {
    if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<int64_t>() < 0))
      fail(field, "must be a non-negative integer, not " + (v.is_number() ? v.dump() : kind(v)));
    return v.get<uint64_t>();
  }
  bool opt_bool(const json& obj, const std::string& field, const char* key, bool def) const {
    const json* v = get(obj, field, key);
    return v ? boolean(*v, join(field, key)) : def;
  }
  static std::string join(const std::string& field, const char* key) {
    return field.empty() ? key : field + "." + key;
  }
  static std::string at(const std::string& field, size_t i) {
    return field + "[" + std::to_string(i) + "]";
  }

  void load(const json& root, T5Tokenizer::Impl& t) const {
    object(root, "");
    if (const json* v = get(root, "", "version"); v && str(*v, "version") != "1.0")
      fail("version", "is " + v->dump() + "; only tokenizer.json version \"1.0\" is known");
    load_model(need(root, "", "model"), t);
    if (const json* n = get(root, "", "normalizer")) load_normalizer(*n, "normalizer", t);
    if (const json* p = get(root, "", "pre_tokenizer")) load_pre_tokenizer(*p, "pre_tokenizer", t);
    if (const json* a = get(root, "", "added_tokens")) load_added(*a, t);
    if (const json* p = get(root, "", "post_processor")) load_post(*p, t);
    finish(root, t);
  }

 private:
  void load_model(const json& m, T5Tokenizer::Impl& t) const {
    object(m, "model");
    if (const json* type = get(m, "model", "type"); type && str(*type, "model.type") != "Unigram")
      fail("model.type", "is " + type->dump() + "; only the Unigram model (T5) is supported");
    const json& vocab = array(need(m, "model", "vocab"), "model.vocab");
    if (vocab.empty()) fail("model.vocab", "is empty");
    t.pieces.reserve(vocab.size());
    t.scores.reserve(vocab.size());
    t.min_score = std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < vocab.size(); ++i) {
      const std::string f = at("model.vocab", i);
      const json& e = array(vocab[i], f);
      if (e.size() != 2) fail(f, "must be a [piece, score] pair");
      t.pieces.push_back(str(e[0], f + "[0]"));
      t.scores.push_back(number(e[1], f + "[1]"));
      t.min_score = std::min(t.min_score, t.scores.back());
    }
    if (const json* u = get(m, "model", "unk_id")) {
      const uint64_t unk = index(*u, "model.unk_id");
      if (unk >= vocab.size())
        fail("model.unk_id", "is " + std::to_string(unk) + " but the vocabulary has " +
                                 std::to_string(vocab.size()) + " pieces");
      t.unk = static_cast<int64_t>(unk);
    }
    t.byte_fallback = opt_bool(m, "model", "byte_fallback", false);
    t.trie.build(t.pieces);
  }

  void load_normalizer(const json& n, const std::string& f, T5Tokenizer::Impl& t,
                       int depth = 0) const {
    const std::string type = str(need(n, f, "type"), join(f, "type"));
    Normalizer out{};
    if (type == "Sequence") {
      if (depth > kMaxDepth) fail(f, "nests Sequences too deeply");
      const json& list = array(need(n, f, "normalizers"), join(f, "normalizers"));
      for (size_t i = 0; i < list.size(); ++i)
        load_normalizer(list[i], at(join(f, "normalizers"), i), t, depth + 1);
      return;
    } else if (type == "Precompiled") {
      const std::string field = join(f, "precompiled_charsmap");
      std::string blob;
      if (!base64_decode(str(need(n, f, "precompiled_charsmap"), field), &blob))
        fail(field, "is not valid base64");
      auto map = std::make_shared<CharsMap>();
      if (std::string err = map->load(blob); !err.empty()) fail(field, err);
      out.kind = Normalizer::Kind::kPrecompiled;
      out.charsmap = std::move(map);
    } else if (type == "Replace") {
      out.kind = Normalizer::Kind::kReplace;
      out.pattern = load_pattern(need(n, f, "pattern"), join(f, "pattern"));
      out.content = str(need(n, f, "content"), join(f, "content"));
    } else if (type == "Strip") {
      out.kind = Normalizer::Kind::kStrip;
      out.left = boolean(need(n, f, "strip_left"), join(f, "strip_left"));
      out.right = boolean(need(n, f, "strip_right"), join(f, "strip_right"));
    } else if (type == "Lowercase") {
      out.kind = Normalizer::Kind::kLowercase;
    } else if (type == "Prepend") {
      out.kind = Normalizer::Kind::kPrepend;
      out.content = str(need(n, f, "prepend"), join(f, "prepend"));
    } else {
      fail(join(f, "type"),
           "is \"" + type +
               "\", which this tokenizer does not implement (supported: "
               "Sequence, Precompiled, Replace, Strip, Lowercase, Prepend)",
           "T5 checkpoints use Precompiled; convert the tokenizer with transformers' T5Converter");
    }
    t.normalizers.push_back(std::move(out));
  }

  Pattern load_pattern(const json& p, const std::string& f) const {
    object(p, f);
    Pattern out;
    if (const json* s = get(p, f, "String")) {
      out.literal = str(*s, join(f, "String"));
      if (out.literal.empty()) fail(join(f, "String"), "is empty");
      return out;
    }
    const std::string field = join(f, "Regex");
    const std::string re = str(need(p, f, "Regex"), field);
    const auto unsupported = [&]() {
      fail(field, "\"" + re + "\" is not supported: only a literal, or one character with " +
                      "{n,}, {n,m}, {n} or + (e.g. \" {2,}\")");
    };
    static const std::string kMeta = "\\^$.|?*+()[]{}";
    if (re.empty()) unsupported();
    if (re.find_first_of(kMeta) == std::string::npos) {
      out.literal = re;
      return out;
    }
    size_t len;
    out.atom = utf8_at(re, 0, &len);
    if (kMeta.find(re[0]) != std::string::npos) unsupported();
    const std::string q = re.substr(len);
    if (q == "+") return out;
    const auto digits = [](const std::string& s, size_t* v) {
      if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos)
        return false;
      *v = std::stoul(s);
      return true;
    };
    if (q.size() < 3 || q.front() != '{' || q.back() != '}') unsupported();
    const std::string body = q.substr(1, q.size() - 2);
    const size_t comma = body.find(',');
    if (!digits(body.substr(0, comma), &out.min)) unsupported();
    if (comma == std::string::npos) {
      out.max = out.min;
    } else if (comma + 1 < body.size() && !digits(body.substr(comma + 1), &out.max)) {
      unsupported();
    }
    if (out.min == 0 || out.max < out.min) unsupported();  // empty matches are not supported
    return out;
  }

  void load_pre_tokenizer(const json& p, const std::string& f, T5Tokenizer::Impl& t,
                          int depth = 0) const {
    const std::string type = str(need(p, f, "type"), join(f, "type"));
    PreTokenizer out{};
    if (type == "Sequence") {
      if (depth > kMaxDepth) fail(f, "nests Sequences too deeply");
      const json& list = array(need(p, f, "pretokenizers"), join(f, "pretokenizers"));
      for (size_t i = 0; i < list.size(); ++i)
        load_pre_tokenizer(list[i], at(join(f, "pretokenizers"), i), t, depth + 1);
      return;
    } else if (type == "WhitespaceSplit") {
      out.kind = PreTokenizer::Kind::kWhitespaceSplit;
    } else if (type == "Metaspace") {
      out.kind = PreTokenizer::Kind::kMetaspace;
      const std::string field = join(f, "replacement");
      out.rep = str(need(p, f, "replacement"), field);
      size_t len = 0;
      if (!out.rep.empty()) out.replacement = utf8_at(out.rep, 0, &len);
      if (out.rep.empty() || len != out.rep.size()) fail(field, "must be exactly one character");
      // Both serialisations: the current prepend_scheme/split, and the older
      // add_prefix_space (+ str_rep, which is ignored as it is in HF).
      if (const json* s = get(p, f, "prepend_scheme")) {
        const std::string v = str(*s, join(f, "prepend_scheme"));
        if (v == "always")
          out.scheme = PrependScheme::kAlways;
        else if (v == "first")
          out.scheme = PrependScheme::kFirst;
        else if (v == "never")
          out.scheme = PrependScheme::kNever;
        else
          fail(join(f, "prepend_scheme"), "is \"" + v + "\"; expected always, first or never");
      }
      if (!opt_bool(p, f, "add_prefix_space", true)) {
        if (get(p, f, "prepend_scheme") && out.scheme != PrependScheme::kNever)
          fail(join(f, "add_prefix_space"), "is false but prepend_scheme is not \"never\"");
        out.scheme = PrependScheme::kNever;
      }
      out.split = opt_bool(p, f, "split", true);
    } else {
      fail(join(f, "type"), "is \"" + type +
                                "\", which this tokenizer does not implement (supported: "
                                "Sequence, Metaspace, WhitespaceSplit)");
    }
    t.pre_tokenizers.push_back(std::move(out));
  }

  void load_added(const json& a, T5Tokenizer::Impl& t) const {
    array(a, "added_tokens");
    // As AddedVocabulary::add_tokens: a token takes the id of the same string
    // in the vocabulary, else the next id after the vocabulary; the file's
    // "id" is not what decides it.
    int64_t next_id = static_cast<int64_t>(t.pieces.size());
    for (size_t i = 0; i < a.size(); ++i) {
      const std::string f = at("added_tokens", i);
      object(a[i], f);
      AddedToken tok;
      tok.content = str(need(a[i], f, "content"), join(f, "content"));
      const bool special = opt_bool(a[i], f, "special", false);
      tok.normalized = opt_bool(a[i], f, "normalized", !special);
      tok.lstrip = opt_bool(a[i], f, "lstrip", false);
      tok.rstrip = opt_bool(a[i], f, "rstrip", false);
      if (opt_bool(a[i], f, "single_word", false))
        fail(join(f, "single_word"), "is true, which this tokenizer does not implement",
             "T5 files do not use single_word tokens");
      if (tok.content.empty()) continue;  // HF ignores them too
      auto same = std::find_if(t.added.begin(), t.added.end(),
                               [&](const AddedToken& o) { return o.content == tok.content; });
      if (same != t.added.end()) {  // a repeated token: the last properties win
        tok.id = same->id;
        *same = tok;
        continue;
      }
      const int64_t in_vocab = t.trie.find(tok.content);
      tok.id = in_vocab >= 0 ? in_vocab : next_id++;
      t.added.push_back(std::move(tok));
    }
  }

  void load_post(const json& p, T5Tokenizer::Impl& t) const {
    const std::string f = "post_processor";
    const std::string type = str(need(p, f, "type"), join(f, "type"));
    if (type != "TemplateProcessing")
      fail(join(f, "type"), "is \"" + type + "\"; only TemplateProcessing is supported");
    const json& specials = object(need(p, f, "special_tokens"), join(f, "special_tokens"));
    const json& single = array(need(p, f, "single"), join(f, "single"));
    for (size_t i = 0; i < single.size(); ++i) {
      const std::string fi = at(join(f, "single"), i);
      object(single[i], fi);
      if (const json* seq = get(single[i], fi, "Sequence")) {
        const std::string id = str(need(*seq, join(fi, "Sequence"), "id"), join(fi, "Sequence.id"));
        if (id != "A") fail(join(fi, "Sequence.id"), "must be \"A\" in the single template");
        t.single.push_back({true, {}});
      } else if (const json* sp = get(single[i], fi, "SpecialToken")) {
        const std::string fs = join(fi, "SpecialToken");
        const std::string id = str(need(*sp, fs, "id"), join(fs, "id"));
        const json* spec = get(specials, join(f, "special_tokens"), id.c_str());
        if (!spec) fail(join(f, "special_tokens"), "has no entry for \"" + id + "\"");
        const std::string fe = join(f, "special_tokens") + "[\"" + id + "\"]";
        const json& ids = array(need(*spec, fe, "ids"), join(fe, "ids"));
        TemplateItem item{false, {}};
        for (size_t k = 0; k < ids.size(); ++k)
          item.ids.push_back(static_cast<int64_t>(std::min<uint64_t>(
              index(ids[k], at(join(fe, "ids"), k)), std::numeric_limits<uint32_t>::max())));
        t.single.push_back(std::move(item));
      } else {
        fail(fi, "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
      }
    }
  }

  void finish(const json& root, T5Tokenizer::Impl& t) const {
    // Added tokens: raw ones match the input, normalized ones the normalized
    // text (in their normalized form).
    for (const AddedToken& tok : t.added) {
      if (!tok.normalized) {
        t.raw_matcher.add(tok.content, tok);
        continue;
      }
      NormStr s = NormStr::original(tok.content);
      t.normalize(s);
      if (!s.text.empty()) t.normalized_matcher.add(s.text, tok);
    }
    for (const AddedMatcher* m : {&t.raw_matcher, &t.normalized_matcher}) {
      std::unordered_set<std::string> seen;
      for (const std::string& pat : m->patterns)
        if (!seen.insert(pat).second)
          fail("added_tokens", "has two tokens that match the same text \"" + pat + "\"");
    }
    t.raw_matcher.finish();
    t.normalized_matcher.finish();

    t.n_ids = t.pieces.size();
    for (const AddedToken& tok : t.added)
      t.n_ids = std::max(t.n_ids, static_cast<size_t>(tok.id) + 1);
    // HF does not check these ids, but an id past the vocabulary would index
    // past the model's embedding.
    for (const TemplateItem& item : t.single)
      for (int64_t id : item.ids)
        if (static_cast<size_t>(id) >= t.n_ids)
          fail("post_processor.special_tokens", "gives id " + std::to_string(id) +
                                                    " but the vocabulary has " +
                                                    std::to_string(t.n_ids) + " ids");
    t.pad = t.token_to_id("<pad>");
    if (t.pad < 0) {
      const json* p = get(root, "", "padding");
      const json* id = p && p->is_object() ? get(*p, "padding", "pad_id") : nullptr;
      t.pad = id ? static_cast<int64_t>(index(*id, "padding.pad_id")) : 0;
    }
    for (const TemplateItem& item : t.single)
      if (!item.is_sequence && !item.ids.empty()) t.eos = item.ids.front();
    if (t.eos < 0) t.eos = t.token_to_id("</s>");
  }

  static bool base64_decode(const std::string& in, std::string* out) {
    if (in.size() % 4 != 0) return false;
    out->clear();
    out->reserve(in.size() / 4 * 3);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const char c = in[i];
      int v;
      if (c >= 'A' && c <= 'Z')
        v = c - 'A';
      else if (c >= 'a' && c <= 'z')
        v = c - 'a' + 26;
      else if (c >= '0' && c <= '9')
        v = c - '0' + 52;
      else if (c == '+')
        v = 62;
      else if (c == '/')
        v = 63;
      else if (c == '=' && i + 2 >= in.size() && (i + 1 == in.size() || in[i + 1] == '='))
        break;
      else
        return false;
      acc = (acc << 6) | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out->push_back(static_cast<char>((acc >> bits) & 0xFF));
      }
    }
    return true;
  }

  std::string file_;
};

}  // namespace

T5Tokenizer T5Tokenizer::from_json_text(const std::string& text, const std::string& origin_name) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    throw InputError(origin_name, "", std::string("is not valid JSON: ") + e.what(), kFixFile);
  }
  auto impl = std::make_shared<Impl>();
  impl->origin = origin_name;
  try {
    Loader(origin_name).load(root, *impl);
  } catch (const json::exception& e) {  // a type the checks above missed
    throw InputError(origin_name, "", std::string("unexpected content: ") + e.what(), kFixFile);
  }
  return T5Tokenizer(std::move(impl));
}

T5Tokenizer T5Tokenizer::from_file(const std::string& tokenizer_json_path) {
  std::ifstream in(tokenizer_json_path, std::ios::binary);
  if (!in)
    throw InputError(tokenizer_json_path, "",
                     std::string("cannot be read: ") + std::strerror(errno),
                     "check the checkpoint directory has a tokenizer.json");
  std::ostringstream ss;
  ss << in.rdbuf();
  return from_json_text(ss.str(), tokenizer_json_path);
}

std::vector<int64_t> T5Tokenizer::encode(std::string_view text) const {
  return impl_->encode(text);
}
int64_t T5Tokenizer::pad_id() const { return impl_->pad; }
int64_t T5Tokenizer::eos_id() const { return impl_->eos; }
int64_t T5Tokenizer::unk_id() const { return impl_->unk; }
size_t T5Tokenizer::vocab_size() const { return impl_->n_ids; }

T5Tokenizer::Batch T5Tokenizer::encode_batch(const std::vector<std::string>& texts) const {
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  size_t cols = 0;
  for (const std::string& t : texts) {
    rows.push_back(encode(t));
    cols = std::max(cols, rows.back().size());
  }
  Batch b;
  b.rows = static_cast<int64_t>(rows.size());
  b.cols = static_cast<int64_t>(cols);
  b.ids.assign(rows.size() * cols, impl_->pad);
  b.mask.assign(rows.size() * cols, 0);
  for (size_t r = 0; r < rows.size(); ++r) {
    std::copy(rows[r].begin(), rows[r].end(),
              b.ids.begin() + static_cast<std::ptrdiff_t>(r * cols));
    std::fill_n(b.mask.begin() + static_cast<std::ptrdiff_t>(r * cols), rows[r].size(), 1);
  }
  return b;
}

// ---------------------------------------------------------------------------
// Synthetic tokenizer for random models.

void write_synthetic_t5_tokenizer_json(const std::string& path, int64_t vocab_size) {
  if (vocab_size < 4 || vocab_size > 1000000)
    throw InputError(
        path, "vocab_size",
        "is " + std::to_string(vocab_size) + "; a synthetic tokenizer needs 4 to 1000000 pieces");
  const auto n = static_cast<size_t>(vocab_size);
  std::vector<std::string> pieces;
  std::unordered_set<std::string> seen;
  const auto add = [&](const std::string& p) {
    if (pieces.size() < n && seen.insert(p).second) pieces.push_back(p);
  };
  const std::string meta = "\xE2\x96\x81";  // U+2581, the sentencepiece word boundary
  for (const char* s : {"<pad>", "</s>", "<unk>"}) add(s);
  add(meta);
  // Frequent words first (whole words carry the boundary), then every
  // printable ASCII char so that English text never needs <unk>.
  static const char* kWords[] = {
      "the",        "a",         "and",        "of",        "to",        "in",         "with",
      "is",         "for",       "on",         "that",      "it",        "as",         "by",
      "at",         "from",      "this",       "an",        "be",        "or",         "are",
      "music",      "song",      "track",      "piece",     "melody",    "beat",       "rhythm",
      "tempo",      "fast",      "slow",       "medium",    "Compose",   "Use",        "happy",
      "sad",        "emotional", "passionate", "groovy",    "energetic", "rock",       "pop",
      "electronic", "jazz",      "classical",  "hip",       "hop",       "guitar",     "piano",
      "trumpet",    "violin",    "flute",      "drums",     "bass",      "synth",      "vocals",
      "strings",    "organ",     "cello",      "saxophone", "choir",     "percussion", "ambient",
      "calm",       "dark",      "bright",     "soft",      "loud",      "heavy",      "warm",
      "epic",       "chill",     "dance",      "loop",      "solo",      "chords",     "riff",
      "groove",     "lead",      "pad",        "orchestra", "band",      "upbeat",     "mellow",
      "dreamy",     "acoustic",  "electric",   "funky",     "blues",     "metal",      "folk",
      "country",    "reggae",    "techno",     "house",     "trance",    "lofi",       "cinematic",
      "background"};
  for (const char* w : kWords) add(meta + w);
  for (char c = 33; c < 127; ++c) add(std::string(1, c));
  for (const char* s : {"é", "è", "à", "ü", "ö", "ä", "ñ", "ç", "ß", "'s", "ing", "ed", "er", "ly"})
    add(s);
  for (char c = 33; c < 127; ++c) add(meta + c);
  for (const char* w : kWords) add(w);
  // Then systematic word pieces until the size is reached.
  std::string p;
  for (int len = 2; pieces.size() < n; ++len) {
    const auto total = static_cast<size_t>(std::pow(26.0, len));
    for (size_t k = 0; k < total && pieces.size() < n; ++k) {
      p.assign(static_cast<size_t>(len), 'a');
      for (size_t v = k, i = 0; i < static_cast<size_t>(len); ++i, v /= 26)
        p[static_cast<size_t>(len) - 1 - i] = static_cast<char>('a' + v % 26);
      add(p);
      add(meta + p);
    }
  }
  json vocab = json::array();
  for (size_t i = 0; i < pieces.size(); ++i)  // log-probability-like, falling with the rank
    vocab.push_back({pieces[i], i < 3 ? 0.0 : -1.0 - std::log(static_cast<double>(i))});
  json added = json::array();
  for (int i = 0; i < 3; ++i)
    added.push_back({{"id", i},
                     {"content", pieces[static_cast<size_t>(i)]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", true}});
  const json metaspace = {
      {"type", "Metaspace"}, {"replacement", meta}, {"prepend_scheme", "always"}, {"split", true}};
  const json seq_a = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  const json eos = {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}};
  const json root = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         {{{"type", "Strip"}, {"strip_left", false}, {"strip_right", true}},
          {{"type", "Replace"}, {"pattern", {{"Regex", " {2,}"}}}, {"content", meta}}}}}},
      {"pre_tokenizer", metaspace},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {seq_a, eos}},
        {"pair", {seq_a, eos, {{"Sequence", {{"id", "B"}, {"type_id", 0}}}}, eos}},
        {"special_tokens", {{"</s>", {{"id", "</s>"}, {"ids", {1}}, {"tokens", {"</s>"}}}}}}}},
      {"decoder", metaspace},
      {"model", {{"type", "Unigram"}, {"unk_id", 2}, {"vocab", vocab}, {"byte_fallback", false}}}};
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << root.dump(1) << '\n';
  if (!out.flush())
    throw InputError(path, "", std::string("cannot be written: ") + std::strerror(errno),
                     "check the output directory exists and is writable");
}

// ---------------------------------------------------------------------------
// Unicode tables.

namespace {

// Grapheme_Cluster_Break (+ Indic_Conjunct_Break, Extended_Pictographic) of
// Unicode 17.0, the version of the unicode-segmentation crate tokenizers links.
// kGraphemeRangeStart[i] starts a range of class kGraphemeRangeClass[i] (the
// letters of Gcb; 'H' = any Hangul syllable) that runs to the next start.
// Generated from the UCD properties via Python's `regex` module (2026.11.19,
// Unicode 18) with the 18.0 changes reverted; equal to the crate's tables code
// point by code point, and for_each_grapheme agrees with regex's \X on 200k
// random strings (regex joins GB9c conjuncts even without a leading consonant;
// UAX #29 and the crate do not, and such clusters are too long to matter here).
// clang-format off
constexpr uint32_t kGraphemeRangeStart[] = {
    0x0, 0xA, 0xB, 0xD, 0xE, 0x20, 0x7F, 0xA0, 0xA9, 0xAA, 0xAD, 0xAE, 0xAF, 0x300, 0x370, 0x483,
    0x48A, 0x591, 0x5BE, 0x5BF, 0x5C0, 0x5C1, 0x5C3, 0x5C4, 0x5C6, 0x5C7, 0x5C8, 0x600, 0x606,
    0x610, 0x61B, 0x61C, 0x61D, 0x64B, 0x660, 0x670, 0x671, 0x6D6, 0x6DD, 0x6DE, 0x6DF, 0x6E5,
    0x6E7, 0x6E9, 0x6EA, 0x6EE, 0x70F, 0x710, 0x711, 0x712, 0x730, 0x74B, 0x7A6, 0x7B1, 0x7EB,
    0x7F4, 0x7FD, 0x7FE, 0x816, 0x81A, 0x81B, 0x824, 0x825, 0x828, 0x829, 0x82E, 0x859, 0x85C,
    0x890, 0x892, 0x897, 0x8A0, 0x8CA, 0x8E2, 0x8E3, 0x903, 0x904, 0x915, 0x93A, 0x93B, 0x93C,
    0x93D, 0x93E, 0x941, 0x949, 0x94D, 0x94E, 0x950, 0x951, 0x958, 0x960, 0x962, 0x964, 0x978,
    0x980, 0x981, 0x982, 0x984, 0x995, 0x9A9, 0x9AA, 0x9B1, 0x9B2, 0x9B3, 0x9B6, 0x9BA, 0x9BC,
    0x9BD, 0x9BE, 0x9BF, 0x9C1, 0x9C5, 0x9C7, 0x9C9, 0x9CB, 0x9CD, 0x9CE, 0x9D7, 0x9D8, 0x9DC,
    0x9DE, 0x9DF, 0x9E0, 0x9E2, 0x9E4, 0x9F0, 0x9F2, 0x9FE, 0x9FF, 0xA01, 0xA03, 0xA04, 0xA3C,
    0xA3D, 0xA3E, 0xA41, 0xA43, 0xA47, 0xA49, 0xA4B, 0xA4E, 0xA51, 0xA52, 0xA70, 0xA72, 0xA75,
    0xA76, 0xA81, 0xA83, 0xA84, 0xA95, 0xAA9, 0xAAA, 0xAB1, 0xAB2, 0xAB4, 0xAB5, 0xABA, 0xABC,
    0xABD, 0xABE, 0xAC1, 0xAC6, 0xAC7, 0xAC9, 0xACA, 0xACB, 0xACD, 0xACE, 0xAE2, 0xAE4, 0xAF9,
    0xAFA, 0xB00, 0xB01, 0xB02, 0xB04, 0xB15, 0xB29, 0xB2A, 0xB31, 0xB32, 0xB34, 0xB35, 0xB3A,
    0xB3C, 0xB3D, 0xB3E, 0xB40, 0xB41, 0xB45, 0xB47, 0xB49, 0xB4B, 0xB4D, 0xB4E, 0xB55, 0xB58,
    0xB5C, 0xB5E, 0xB5F, 0xB60, 0xB62, 0xB64, 0xB71, 0xB72, 0xB82, 0xB83, 0xBBE, 0xBBF, 0xBC0,
    0xBC1, 0xBC3, 0xBC6, 0xBC9, 0xBCA, 0xBCD, 0xBCE, 0xBD7, 0xBD8, 0xC00, 0xC01, 0xC04, 0xC05,
    0xC15, 0xC29, 0xC2A, 0xC3A, 0xC3C, 0xC3D, 0xC3E, 0xC41, 0xC45, 0xC46, 0xC49, 0xC4A, 0xC4D,
    0xC4E, 0xC55, 0xC57, 0xC58, 0xC5B, 0xC62, 0xC64, 0xC81, 0xC82, 0xC84, 0xCBC, 0xCBD, 0xCBE,
    0xCBF, 0xCC1, 0xCC2, 0xCC3, 0xCC5, 0xCC6, 0xCC9, 0xCCA, 0xCCE, 0xCD5, 0xCD7, 0xCE2, 0xCE4,
    0xCF3, 0xCF4, 0xD00, 0xD02, 0xD04, 0xD15, 0xD3B, 0xD3D, 0xD3E, 0xD3F, 0xD41, 0xD45, 0xD46,
    0xD49, 0xD4A, 0xD4D, 0xD4E, 0xD4F, 0xD57, 0xD58, 0xD62, 0xD64, 0xD81, 0xD82, 0xD84, 0xDCA,
    0xDCB, 0xDCF, 0xDD0, 0xDD2, 0xDD5, 0xDD6, 0xDD7, 0xDD8, 0xDDF, 0xDE0, 0xDF2, 0xDF4, 0xE31,
    0xE32, 0xE33, 0xE34, 0xE3B, 0xE47, 0xE4F, 0xEB1, 0xEB2, 0xEB3, 0xEB4, 0xEBD, 0xEC8, 0xECF,
    0xF18, 0xF1A, 0xF35, 0xF36, 0xF37, 0xF38, 0xF39, 0xF3A, 0xF3E, 0xF40, 0xF71, 0xF7F, 0xF80,
    0xF85, 0xF86, 0xF88, 0xF8D, 0xF98, 0xF99, 0xFBD, 0xFC6, 0xFC7, 0x1000, 0x102B, 0x102D, 0x1031,
    0x1032, 0x1038, 0x1039, 0x103A, 0x103B, 0x103D, 0x103F, 0x1040, 0x1050, 0x1056, 0x1058, 0x105A,
    0x105E, 0x1061, 0x1062, 0x1065, 0x1067, 0x106E, 0x1071, 0x1075, 0x1082, 0x1083, 0x1084, 0x1085,
    0x1087, 0x108D, 0x108E, 0x108F, 0x109D, 0x109E, 0x1100, 0x1160, 0x11A8, 0x1200, 0x135D, 0x1360,
    0x1712, 0x1716, 0x1732, 0x1735, 0x1752, 0x1754, 0x1772, 0x1774, 0x1780, 0x17B4, 0x17B6, 0x17B7,
    0x17BE, 0x17C6, 0x17C7, 0x17C9, 0x17D2, 0x17D3, 0x17D4, 0x17DD, 0x17DE, 0x180B, 0x180E, 0x180F,
    0x1810, 0x1885, 0x1887, 0x18A9, 0x18AA, 0x1920, 0x1923, 0x1927, 0x1929, 0x192C, 0x1930, 0x1932,
    0x1933, 0x1939, 0x193C, 0x1A17, 0x1A19, 0x1A1B, 0x1A1C, 0x1A20, 0x1A55, 0x1A56, 0x1A57, 0x1A58,
    0x1A5F, 0x1A60, 0x1A61, 0x1A62, 0x1A63, 0x1A65, 0x1A6D, 0x1A73, 0x1A7D, 0x1A7F, 0x1A80, 0x1AB0,
    0x1ADE, 0x1AE0, 0x1AEC, 0x1B00, 0x1B04, 0x1B05, 0x1B0B, 0x1B0D, 0x1B13, 0x1B34, 0x1B3E, 0x1B42,
    0x1B44, 0x1B45, 0x1B4D, 0x1B6B, 0x1B74, 0x1B80, 0x1B82, 0x1B83, 0x1BA1, 0x1BA2, 0x1BA6, 0x1BA8,
    0x1BAB, 0x1BAC, 0x1BAE, 0x1BB0, 0x1BBB, 0x1BBE, 0x1BE6, 0x1BE7, 0x1BE8, 0x1BEA, 0x1BED, 0x1BEE,
    0x1BEF, 0x1BF4, 0x1C24, 0x1C2C, 0x1C34, 0x1C36, 0x1C38, 0x1CD0, 0x1CD3, 0x1CD4, 0x1CE1, 0x1CE2,
    0x1CE9, 0x1CED, 0x1CEE, 0x1CF4, 0x1CF5, 0x1CF7, 0x1CF8, 0x1CFA, 0x1DC0, 0x1E00, 0x200B, 0x200C,
    0x200D, 0x200E, 0x2010, 0x2028, 0x202F, 0x203C, 0x203D, 0x2049, 0x204A, 0x2060, 0x2070, 0x20D0,
    0x20F1, 0x2122, 0x2123, 0x2139, 0x213A, 0x2194, 0x219A, 0x21A9, 0x21AB, 0x231A, 0x231C, 0x2328,
    0x2329, 0x23CF, 0x23D0, 0x23E9, 0x23F4, 0x23F8, 0x23FB, 0x24C2, 0x24C3, 0x25AA, 0x25AC, 0x25B6,
    0x25B7, 0x25C0, 0x25C1, 0x25FB, 0x25FF, 0x2600, 0x2605, 0x260E, 0x260F, 0x2611, 0x2612, 0x2614,
    0x2616, 0x2618, 0x2619, 0x261D, 0x261E, 0x2620, 0x2621, 0x2622, 0x2624, 0x2626, 0x2627, 0x262A,
    0x262B, 0x262E, 0x2630, 0x2638, 0x263B, 0x2640, 0x2641, 0x2642, 0x2643, 0x2648, 0x2654, 0x265F,
    0x2661, 0x2663, 0x2664, 0x2665, 0x2667, 0x2668, 0x2669, 0x267B, 0x267C, 0x267E, 0x2680, 0x2692,
    0x2698, 0x2699, 0x269A, 0x269B, 0x269D, 0x26A0, 0x26A2, 0x26A7, 0x26A8, 0x26AA, 0x26AC, 0x26B0,
    0x26B2, 0x26BD, 0x26BF, 0x26C4, 0x26C6, 0x26C8, 0x26C9, 0x26CE, 0x26D0, 0x26D1, 0x26D2, 0x26D3,
    0x26D5, 0x26E9, 0x26EB, 0x26F0, 0x26F6, 0x26F7, 0x26FB, 0x26FD, 0x26FE, 0x2702, 0x2703, 0x2705,
    0x2706, 0x2708, 0x270E, 0x270F, 0x2710, 0x2712, 0x2713, 0x2714, 0x2715, 0x2716, 0x2717, 0x271D,
    0x271E, 0x2721, 0x2722, 0x2728, 0x2729, 0x2733, 0x2735, 0x2744, 0x2745, 0x2747, 0x2748, 0x274C,
    0x274D, 0x274E, 0x274F, 0x2753, 0x2756, 0x2757, 0x2758, 0x2763, 0x2765, 0x2795, 0x2798, 0x27A1,
    0x27A2, 0x27B0, 0x27B1, 0x27BF, 0x27C0, 0x2934, 0x2936, 0x2B05, 0x2B08, 0x2B1B, 0x2B1D, 0x2B50,
    0x2B51, 0x2B55, 0x2B56, 0x2CEF, 0x2CF2, 0x2D7F, 0x2D80, 0x2DE0, 0x2E00, 0x302A, 0x3030, 0x3031,
    0x303D, 0x303E, 0x3099, 0x309B, 0x3297, 0x3298, 0x3299, 0x329A, 0xA66F, 0xA673, 0xA674, 0xA67E,
    0xA69E, 0xA6A0, 0xA6F0, 0xA6F2, 0xA802, 0xA803, 0xA806, 0xA807, 0xA80B, 0xA80C, 0xA823, 0xA825,
    0xA827, 0xA828, 0xA82C, 0xA82D, 0xA880, 0xA882, 0xA8B4, 0xA8C4, 0xA8C6, 0xA8E0, 0xA8F2, 0xA8FF,
    0xA900, 0xA926, 0xA92E, 0xA947, 0xA952, 0xA953, 0xA954, 0xA960, 0xA97D, 0xA980, 0xA983, 0xA984,
    0xA989, 0xA98C, 0xA98F, 0xA9B3, 0xA9B4, 0xA9B6, 0xA9BA, 0xA9BC, 0xA9BE, 0xA9C0, 0xA9C1, 0xA9E0,
    0xA9E5, 0xA9E6, 0xA9E7, 0xA9F0, 0xA9FA, 0xA9FF, 0xAA29, 0xAA2F, 0xAA31, 0xAA33, 0xAA35, 0xAA37,
    0xAA43, 0xAA44, 0xAA4C, 0xAA4D, 0xAA4E, 0xAA60, 0xAA70, 0xAA71, 0xAA74, 0xAA7A, 0xAA7B, 0xAA7C,
    0xAA7D, 0xAA7E, 0xAA80, 0xAAB0, 0xAAB1, 0xAAB2, 0xAAB5, 0xAAB7, 0xAAB9, 0xAABE, 0xAAC0, 0xAAC1,
    0xAAC2, 0xAAE0, 0xAAEB, 0xAAEC, 0xAAEE, 0xAAF0, 0xAAF5, 0xAAF6, 0xAAF7, 0xABC0, 0xABDB, 0xABE3,
    0xABE5, 0xABE6, 0xABE8, 0xABE9, 0xABEB, 0xABEC, 0xABED, 0xABEE, 0xAC00, 0xD7A4, 0xD7B0, 0xD7C7,
    0xD7CB, 0xD7FC, 0xFB1E, 0xFB1F, 0xFE00, 0xFE10, 0xFE20, 0xFE30, 0xFEFF, 0xFF00, 0xFF9E, 0xFFA0,
    0xFFF0, 0xFFFC, 0x101FD, 0x101FE, 0x102E0, 0x102E1, 0x10376, 0x1037B, 0x10A00, 0x10A01,
    0x10A04, 0x10A05, 0x10A07, 0x10A0C, 0x10A10, 0x10A14, 0x10A15, 0x10A18, 0x10A19, 0x10A36,
    0x10A38, 0x10A3B, 0x10A3F, 0x10A40, 0x10AE5, 0x10AE7, 0x10D24, 0x10D28, 0x10D69, 0x10D6E,
    0x10EAB, 0x10EAD, 0x10EFA, 0x10F00, 0x10F46, 0x10F51, 0x10F82, 0x10F86, 0x11000, 0x11001,
    0x11002, 0x11003, 0x11038, 0x11047, 0x11070, 0x11071, 0x11073, 0x11075, 0x1107F, 0x11082,
    0x11083, 0x110B0, 0x110B3, 0x110B7, 0x110B9, 0x110BB, 0x110BD, 0x110BE, 0x110C2, 0x110C3,
    0x110CD, 0x110CE, 0x11100, 0x11103, 0x11127, 0x1112C, 0x1112D, 0x11133, 0x11134, 0x11135,
    0x11144, 0x11145, 0x11147, 0x11148, 0x11173, 0x11174, 0x11180, 0x11182, 0x11183, 0x111B3,
    0x111B6, 0x111BF, 0x111C0, 0x111C1, 0x111C2, 0x111C4, 0x111C9, 0x111CD, 0x111CE, 0x111CF,
    0x111D0, 0x1122C, 0x1122F, 0x11232, 0x11234, 0x11238, 0x1123E, 0x1123F, 0x11241, 0x11242,
    0x112DF, 0x112E0, 0x112E3, 0x112EB, 0x11300, 0x11302, 0x11304, 0x1133B, 0x1133D, 0x1133E,
    0x1133F, 0x11340, 0x11341, 0x11345, 0x11347, 0x11349, 0x1134B, 0x1134D, 0x1134E, 0x11357,
    0x11358, 0x11362, 0x11364, 0x11366, 0x1136D, 0x11370, 0x11375, 0x11380, 0x1138A, 0x1138B,
    0x1138C, 0x1138E, 0x1138F, 0x11390, 0x113B6, 0x113B8, 0x113B9, 0x113BB, 0x113C1, 0x113C2,
    0x113C3, 0x113C5, 0x113C6, 0x113C7, 0x113CA, 0x113CB, 0x113CC, 0x113CE, 0x113D0, 0x113D1,
    0x113D2, 0x113D3, 0x113E1, 0x113E3, 0x11435, 0x11438, 0x11440, 0x11442, 0x11445, 0x11446,
    0x11447, 0x1145E, 0x1145F, 0x114B0, 0x114B1, 0x114B3, 0x114B9, 0x114BA, 0x114BB, 0x114BD,
    0x114BE, 0x114BF, 0x114C1, 0x114C2, 0x114C4, 0x115AF, 0x115B0, 0x115B2, 0x115B6, 0x115B8,
    0x115BC, 0x115BE, 0x115BF, 0x115C1, 0x115DC, 0x115DE, 0x11630, 0x11633, 0x1163B, 0x1163D,
    0x1163E, 0x1163F, 0x11641, 0x116AB, 0x116AC, 0x116AD, 0x116AE, 0x116B0, 0x116B8, 0x1171D,
    0x1171E, 0x1171F, 0x11720, 0x11722, 0x11726, 0x11727, 0x1172C, 0x1182C, 0x1182F, 0x11838,
    0x11839, 0x1183B, 0x11900, 0x11907, 0x11909, 0x1190A, 0x1190C, 0x11914, 0x11915, 0x11917,
    0x11918, 0x11930, 0x11931, 0x11936, 0x11937, 0x11939, 0x1193B, 0x1193E, 0x1193F, 0x11940,
    0x11941, 0x11942, 0x11943, 0x11944, 0x119D1, 0x119D4, 0x119D8, 0x119DA, 0x119DC, 0x119E0,
    0x119E1, 0x119E4, 0x119E5, 0x11A00, 0x11A01, 0x11A0B, 0x11A33, 0x11A39, 0x11A3A, 0x11A3B,
    0x11A3F, 0x11A47, 0x11A48, 0x11A50, 0x11A51, 0x11A57, 0x11A59, 0x11A5C, 0x11A84, 0x11A8A,
    0x11A97, 0x11A98, 0x11A99, 0x11A9A, 0x11B60, 0x11B61, 0x11B62, 0x11B65, 0x11B66, 0x11B67,
    0x11B68, 0x11C2F, 0x11C30, 0x11C37, 0x11C38, 0x11C3E, 0x11C3F, 0x11C40, 0x11C92, 0x11CA8,
    0x11CA9, 0x11CAA, 0x11CB1, 0x11CB2, 0x11CB4, 0x11CB5, 0x11CB7, 0x11D31, 0x11D37, 0x11D3A,
    0x11D3B, 0x11D3C, 0x11D3E, 0x11D3F, 0x11D46, 0x11D47, 0x11D48, 0x11D8A, 0x11D8F, 0x11D90,
    0x11D92, 0x11D93, 0x11D95, 0x11D96, 0x11D97, 0x11D98, 0x11EF3, 0x11EF5, 0x11EF7, 0x11F00,
    0x11F02, 0x11F03, 0x11F04, 0x11F11, 0x11F12, 0x11F34, 0x11F36, 0x11F3B, 0x11F3E, 0x11F40,
    0x11F42, 0x11F43, 0x11F5A, 0x11F5B, 0x13430, 0x13440, 0x13441, 0x13447, 0x13456, 0x1611E,
    0x1612A, 0x1612D, 0x16130, 0x16AF0, 0x16AF5, 0x16B30, 0x16B37, 0x16D63, 0x16D64, 0x16D67,
    0x16D6B, 0x16F4F, 0x16F50, 0x16F51, 0x16F88, 0x16F8F, 0x16F93, 0x16FE4, 0x16FE5, 0x16FF0,
    0x16FF2, 0x1BC9D, 0x1BC9F, 0x1BCA0, 0x1BCA4, 0x1CF00, 0x1CF2E, 0x1CF30, 0x1CF47, 0x1D165,
    0x1D16A, 0x1D16D, 0x1D173, 0x1D17B, 0x1D183, 0x1D185, 0x1D18C, 0x1D1AA, 0x1D1AE, 0x1D242,
    0x1D245, 0x1DA00, 0x1DA37, 0x1DA3B, 0x1DA6D, 0x1DA75, 0x1DA76, 0x1DA84, 0x1DA85, 0x1DA9B,
    0x1DAA0, 0x1DAA1, 0x1DAB0, 0x1E000, 0x1E007, 0x1E008, 0x1E019, 0x1E01B, 0x1E022, 0x1E023,
    0x1E025, 0x1E026, 0x1E02B, 0x1E08F, 0x1E090, 0x1E130, 0x1E137, 0x1E2AE, 0x1E2AF, 0x1E2EC,
    0x1E2F0, 0x1E4EC, 0x1E4F0, 0x1E5EE, 0x1E5F0, 0x1E6E3, 0x1E6E4, 0x1E6E6, 0x1E6E7, 0x1E6EE,
    0x1E6F0, 0x1E6F5, 0x1E6F6, 0x1E8D0, 0x1E8D7, 0x1E944, 0x1E94B, 0x1F004, 0x1F005, 0x1F02C,
    0x1F030, 0x1F094, 0x1F0A0, 0x1F0AF, 0x1F0B1, 0x1F0C0, 0x1F0C1, 0x1F0CF, 0x1F0D1, 0x1F0F6,
    0x1F100, 0x1F170, 0x1F172, 0x1F17E, 0x1F180, 0x1F18E, 0x1F18F, 0x1F191, 0x1F19B, 0x1F1AE,
    0x1F1E6, 0x1F200, 0x1F201, 0x1F210, 0x1F21A, 0x1F21B, 0x1F22F, 0x1F230, 0x1F232, 0x1F23B,
    0x1F23C, 0x1F240, 0x1F249, 0x1F260, 0x1F266, 0x1F322, 0x1F324, 0x1F394, 0x1F396, 0x1F398,
    0x1F399, 0x1F39C, 0x1F39E, 0x1F3F1, 0x1F3F3, 0x1F3F6, 0x1F3F7, 0x1F3FB, 0x1F400, 0x1F4FE,
    0x1F4FF, 0x1F53E, 0x1F549, 0x1F54F, 0x1F550, 0x1F568, 0x1F56F, 0x1F571, 0x1F573, 0x1F57B,
    0x1F587, 0x1F588, 0x1F58A, 0x1F58E, 0x1F590, 0x1F591, 0x1F595, 0x1F597, 0x1F5A4, 0x1F5A6,
    0x1F5A8, 0x1F5A9, 0x1F5B1, 0x1F5B3, 0x1F5BC, 0x1F5BD, 0x1F5C2, 0x1F5C5, 0x1F5D1, 0x1F5D4,
    0x1F5DC, 0x1F5DF, 0x1F5E1, 0x1F5E2, 0x1F5E3, 0x1F5E4, 0x1F5E8, 0x1F5E9, 0x1F5EF, 0x1F5F0,
    0x1F5F3, 0x1F5F4, 0x1F5FA, 0x1F650, 0x1F680, 0x1F6C6, 0x1F6CB, 0x1F6D3, 0x1F6D5, 0x1F6E6,
    0x1F6E9, 0x1F6EA, 0x1F6EB, 0x1F6F1, 0x1F6F3, 0x1F700, 0x1F7DA, 0x1F800, 0x1F80C, 0x1F810,
    0x1F848, 0x1F850, 0x1F85A, 0x1F860, 0x1F888, 0x1F890, 0x1F8AE, 0x1F8B0, 0x1F8BC, 0x1F8C0,
    0x1F8C2, 0x1F8D0, 0x1F8D9, 0x1F900, 0x1F90C, 0x1F93B, 0x1F93C, 0x1F946, 0x1F947, 0x1FA00,
    0x1FA58, 0x1FA60, 0x1FA6E, 0x1FB00, 0x1FC00, 0x1FFFE, 0xE0000, 0xE0020, 0xE0080, 0xE0100,
    0xE01F0, 0xE1000,
};
constexpr char kGraphemeRangeClass[] =
    "cncrc.c.P.cP.x.x.x.x.x.x.x.p.x.c.x.x.xp.x.x.x.p.x.x.x.x.x.x.x.x.x.x.p.x.xpxs.Cxsx.sxsks.xC"
    ".x.C.xs.C.C.C.C.x.xsx.s.sk.x.C.C.x.C.x.xs.x.sx.x.x.x.x.x.xs.C.C.C.C.x.sx.xs.sk.x.Cx.xs.C.C"
    ".C.C.x.xsx.s.sk.x.C.C.x.C.x.xsxs.s.sx.x.xsx.C.C.x.xs.x.xk.x.C.x.xs.x.sxsxs.x.x.x.x.s.xs.Cx"
    ".xsx.s.skp.x.x.xs.x.xsx.x.sx.s.x.sx.x.x.sx.x.x.x.x.x.s.xsx.x.x.x.x.C.xsx.kxsxC.CsxCxC.C.Cx"
    "Cx.sx.xC.x.LVT.x.x.x.x.x.Cxsxsxsxkx.x.xcx.x.x.xsxs.sxsx.xsx.Csxsx.k.x.xsx.x.x.x.xs.C.Cxsxk"
    "C.x.xsCsxsxkxC.C.xsxsxsx.sxsx.x.xsx.x.x.sx.x.cezc.c.P.P.c.x.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P."
    "P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P."
    "P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.x.x.x.xP.P.x.P.P.x.x.x.x.x.x.x.sxs.x.s.sx.x.x.x.xsx."
    "L.xs.C.Cxsxsxsk.Cx.C.C.xsxsx.x.xs.C.C.C.x.C.x.x.x.x.x.Csxs.sk.C.sxsxs.sx.H.V.T.x.x.x.c.x.c"
    ".x.x.x.Cx.x.xC.C.C.x.k.x.x.x.x.x.x.x.sxs.x.x.x.xs.sxsx.p.x.p.xCxsxkx.CsC.x.xs.sxsx.p.x.sx."
    "sxsx.x.x.xsx.xs.x.xsxs.s.sx.x.s.x.x.C.C.C.C.xsx.x.x.xs.sxkpx.x.sxsxsx.x.xsxsxsxsxsx.xsx.sx"
    "sx.x.sxsxsx.xsxsx.xsx.xsx.sxsx.C.C.C.C.Cxs.s.xkpspsx.sx.xsx.s.CxCxs.x.k.CxsxCpxsxk.xsxsxs."
    "sx.xsx.x.sxsxsx.x.x.x.xpx.s.x.sxsx.xs.xpsC.Csx.sxk.x.cx.x.xsx.x.x.V.V.x.s.x.x.x.x.c.x.x.x."
    "xcx.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.P.P.P.P.P.P.P.P.P.P.P.Pi.P.P.P.P.P"
    ".P.P.P.P.P.P.P.PxP.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P.P"
    ".P.P.P.P.P.P.P.cxcxc.";
// clang-format on

static_assert(sizeof(kGraphemeRangeStart) / sizeof(kGraphemeRangeStart[0]) ==
                  sizeof(kGraphemeRangeClass) - 1,
              "one class letter per range");

// Simple lowercase mappings as runs: lo..hi step `stride` map to c + delta.
// Generated from Python 3.11's str.lower (Unicode 14.0); Rust's to_lowercase
// also lowercases the few letters added since (Unicode 15-17), which no T5
// tokenizer normalizes with Lowercase.
struct LowerRun {
  uint32_t lo, hi;
  int32_t delta;
  uint32_t stride;
};
// clang-format off
constexpr LowerRun kLowerRuns[] = {
    {0x41, 0x5A, 32, 1}, {0xC0, 0xD6, 32, 1}, {0xD8, 0xDE, 32, 1}, {0x100, 0x12E, 1, 2},
    {0x132, 0x136, 1, 2}, {0x139, 0x147, 1, 2}, {0x14A, 0x176, 1, 2}, {0x178, 0x178, -121, 1},
    {0x179, 0x17D, 1, 2}, {0x181, 0x181, 210, 1}, {0x182, 0x184, 1, 2}, {0x186, 0x186, 206, 1},
    {0x187, 0x187, 1, 1}, {0x189, 0x18A, 205, 1}, {0x18B, 0x18B, 1, 1}, {0x18E, 0x18E, 79, 1},
    {0x18F, 0x18F, 202, 1}, {0x190, 0x190, 203, 1}, {0x191, 0x191, 1, 1}, {0x193, 0x193, 205, 1},
    {0x194, 0x194, 207, 1}, {0x196, 0x196, 211, 1}, {0x197, 0x197, 209, 1}, {0x198, 0x198, 1, 1},
    {0x19C, 0x19C, 211, 1}, {0x19D, 0x19D, 213, 1}, {0x19F, 0x19F, 214, 1}, {0x1A0, 0x1A4, 1, 2},
    {0x1A6, 0x1A6, 218, 1}, {0x1A7, 0x1A7, 1, 1}, {0x1A9, 0x1A9, 218, 1}, {0x1AC, 0x1AC, 1, 1},
    {0x1AE, 0x1AE, 218, 1}, {0x1AF, 0x1AF, 1, 1}, {0x1B1, 0x1B2, 217, 1}, {0x1B3, 0x1B5, 1, 2},
    {0x1B7, 0x1B7, 219, 1}, {0x1B8, 0x1B8, 1, 1}, {0x1BC, 0x1BC, 1, 1}, {0x1C4, 0x1C4, 2, 1},
    {0x1C5, 0x1C5, 1, 1}, {0x1C7, 0x1C7, 2, 1}, {0x1C8, 0x1C8, 1, 1}, {0x1CA, 0x1CA, 2, 1},
    {0x1CB, 0x1DB, 1, 2}, {0x1DE, 0x1EE, 1, 2}, {0x1F1, 0x1F1, 2, 1}, {0x1F2, 0x1F4, 1, 2},
    {0x1F6, 0x1F6, -97, 1}, {0x1F7, 0x1F7, -56, 1}, {0x1F8, 0x21E, 1, 2}, {0x220, 0x220, -130, 1},
    {0x222, 0x232, 1, 2}, {0x23A, 0x23A, 10795, 1}, {0x23B, 0x23B, 1, 1}, {0x23D, 0x23D, -163, 1},
    {0x23E, 0x23E, 10792, 1}, {0x241, 0x241, 1, 1}, {0x243, 0x243, -195, 1}, {0x244, 0x244, 69, 1},
    {0x245, 0x245, 71, 1}, {0x246, 0x24E, 1, 2}, {0x370, 0x372, 1, 2}, {0x376, 0x376, 1, 1},
    {0x37F, 0x37F, 116, 1}, {0x386, 0x386, 38, 1}, {0x388, 0x38A, 37, 1}, {0x38C, 0x38C, 64, 1},
    {0x38E, 0x38F, 63, 1}, {0x391, 0x3A1, 32, 1}, {0x3A3, 0x3AB, 32, 1}, {0x3CF, 0x3CF, 8, 1},
    {0x3D8, 0x3EE, 1, 2}, {0x3F4, 0x3F4, -60, 1}, {0x3F7, 0x3F7, 1, 1}, {0x3F9, 0x3F9, -7, 1},
    {0x3FA, 0x3FA, 1, 1}, {0x3FD, 0x3FF, -130, 1}, {0x400, 0x40F, 80, 1}, {0x410, 0x42F, 32, 1},
    {0x460, 0x480, 1, 2}, {0x48A, 0x4BE, 1, 2}, {0x4C0, 0x4C0, 15, 1}, {0x4C1, 0x4CD, 1, 2},
    {0x4D0, 0x52E, 1, 2}, {0x531, 0x556, 48, 1}, {0x10A0, 0x10C5, 7264, 1},
    {0x10C7, 0x10C7, 7264, 1}, {0x10CD, 0x10CD, 7264, 1}, {0x13A0, 0x13EF, 38864, 1},
    {0x13F0, 0x13F5, 8, 1}, {0x1C90, 0x1CBA, -3008, 1}, {0x1CBD, 0x1CBF, -3008, 1},
    {0x1E00, 0x1E94, 1, 2}, {0x1E9E, 0x1E9E, -7615, 1}, {0x1EA0, 0x1EFE, 1, 2},
    {0x1F08, 0x1F0F, -8, 1}, {0x1F18, 0x1F1D, -8, 1}, {0x1F28, 0x1F2F, -8, 1},
    {0x1F38, 0x1F3F, -8, 1}, {0x1F48, 0x1F4D, -8, 1}, {0x1F59, 0x1F5F, -8, 2},
    {0x1F68, 0x1F6F, -8, 1}, {0x1F88, 0x1F8F, -8, 1}, {0x1F98, 0x1F9F, -8, 1},
    {0x1FA8, 0x1FAF, -8, 1}, {0x1FB8, 0x1FB9, -8, 1}, {0x1FBA, 0x1FBB, -74, 1},
    {0x1FBC, 0x1FBC, -9, 1}, {0x1FC8, 0x1FCB, -86, 1}, {0x1FCC, 0x1FCC, -9, 1},
    {0x1FD8, 0x1FD9, -8, 1}, {0x1FDA, 0x1FDB, -100, 1}, {0x1FE8, 0x1FE9, -8, 1},
    {0x1FEA, 0x1FEB, -112, 1}, {0x1FEC, 0x1FEC, -7, 1}, {0x1FF8, 0x1FF9, -128, 1},
    {0x1FFA, 0x1FFB, -126, 1}, {0x1FFC, 0x1FFC, -9, 1}, {0x2126, 0x2126, -7517, 1},
    {0x212A, 0x212A, -8383, 1}, {0x212B, 0x212B, -8262, 1}, {0x2132, 0x2132, 28, 1},
    {0x2160, 0x216F, 16, 1}, {0x2183, 0x2183, 1, 1}, {0x24B6, 0x24CF, 26, 1},
    {0x2C00, 0x2C2F, 48, 1}, {0x2C60, 0x2C60, 1, 1}, {0x2C62, 0x2C62, -10743, 1},
    {0x2C63, 0x2C63, -3814, 1}, {0x2C64, 0x2C64, -10727, 1}, {0x2C67, 0x2C6B, 1, 2},
    {0x2C6D, 0x2C6D, -10780, 1}, {0x2C6E, 0x2C6E, -10749, 1}, {0x2C6F, 0x2C6F, -10783, 1},
    {0x2C70, 0x2C70, -10782, 1}, {0x2C72, 0x2C72, 1, 1}, {0x2C75, 0x2C75, 1, 1},
    {0x2C7E, 0x2C7F, -10815, 1}, {0x2C80, 0x2CE2, 1, 2}, {0x2CEB, 0x2CED, 1, 2},
    {0x2CF2, 0x2CF2, 1, 1}, {0xA640, 0xA66C, 1, 2}, {0xA680, 0xA69A, 1, 2}, {0xA722, 0xA72E, 1, 2},
    {0xA732, 0xA76E, 1, 2}, {0xA779, 0xA77B, 1, 2}, {0xA77D, 0xA77D, -35332, 1},
    {0xA77E, 0xA786, 1, 2}, {0xA78B, 0xA78B, 1, 1}, {0xA78D, 0xA78D, -42280, 1},
    {0xA790, 0xA792, 1, 2}, {0xA796, 0xA7A8, 1, 2}, {0xA7AA, 0xA7AA, -42308, 1},
    {0xA7AB, 0xA7AB, -42319, 1}, {0xA7AC, 0xA7AC, -42315, 1}, {0xA7AD, 0xA7AD, -42305, 1},
    {0xA7AE, 0xA7AE, -42308, 1}, {0xA7B0, 0xA7B0, -42258, 1}, {0xA7B1, 0xA7B1, -42282, 1},
    {0xA7B2, 0xA7B2, -42261, 1}, {0xA7B3, 0xA7B3, 928, 1}, {0xA7B4, 0xA7C2, 1, 2},
    {0xA7C4, 0xA7C4, -48, 1}, {0xA7C5, 0xA7C5, -42307, 1}, {0xA7C6, 0xA7C6, -35384, 1},
    {0xA7C7, 0xA7C9, 1, 2}, {0xA7D0, 0xA7D0, 1, 1}, {0xA7D6, 0xA7D8, 1, 2}, {0xA7F5, 0xA7F5, 1, 1},
    {0xFF21, 0xFF3A, 32, 1}, {0x10400, 0x10427, 40, 1}, {0x104B0, 0x104D3, 40, 1},
    {0x10570, 0x1057A, 39, 1}, {0x1057C, 0x1058A, 39, 1}, {0x1058C, 0x10592, 39, 1},
    {0x10594, 0x10595, 39, 1}, {0x10C80, 0x10CB2, 64, 1}, {0x118A0, 0x118BF, 32, 1},
    {0x16E40, 0x16E5F, 32, 1}, {0x1E900, 0x1E921, 34, 1},
};
// clang-format on

Gcb grapheme_class(char32_t c) {
  if (c < 0x7F)
    return c >= 0x20 ? Gcb::kAny : c == '\n' ? Gcb::kLF : c == '\r' ? Gcb::kCR : Gcb::kControl;
  const auto* end = std::end(kGraphemeRangeStart);
  const size_t i =
      static_cast<size_t>(std::upper_bound(kGraphemeRangeStart, end, c) - kGraphemeRangeStart) - 1;
  const auto g = static_cast<Gcb>(kGraphemeRangeClass[i]);
  if (g == Gcb::kLV) return (c - 0xAC00) % 28 == 0 ? Gcb::kLV : Gcb::kLVT;
  return g;
}

// Rust's char::to_lowercase: one char, except U+0130 which becomes "i\u0307".
// Appends (char, change) edits as NormalizedString::lowercase does.
void append_lowercase(char32_t c, std::vector<std::pair<char32_t, int>>& out, bool* changed) {
  if (c == 0x130) {
    out.push_back({'i', 0});
    out.push_back({0x307, 1});
    *changed = true;
    return;
  }
  const LowerRun* r = std::upper_bound(std::begin(kLowerRuns), std::end(kLowerRuns), c,
                                       [](char32_t v, const LowerRun& run) { return v < run.lo; });
  if (r != std::begin(kLowerRuns)) {
    --r;
    if (c <= r->hi && (c - r->lo) % r->stride == 0) {
      out.push_back({static_cast<char32_t>(static_cast<int64_t>(c) + r->delta), 0});
      *changed = true;
      return;
    }
  }
  out.push_back({c, 0});
}

}  // namespace
}  // namespace mg
