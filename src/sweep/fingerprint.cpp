#include "sweep/fingerprint.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "classify/demo_classifier.h"
#include "musicgen/errors.h"

namespace mg::sweep {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull, kP2 = 0xC2B2AE3D27D4EB4Full,
                   kP3 = 0x165667B19E3779F9ull, kP4 = 0x85EBCA77C2B2AE63ull,
                   kP5 = 0x27D4EB2F165667C5ull;

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
uint64_t read64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);  // little-endian hosts only, as the store itself
  return v;
}
uint32_t read32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t round64(uint64_t acc, uint64_t in) { return rotl(acc + in * kP2, 31) * kP1; }
uint64_t merge(uint64_t h, uint64_t v) { return (h ^ round64(0, v)) * kP1 + kP4; }

constexpr const char* kCacheName = ".mgsweep-fingerprint";
constexpr const char* kCacheHeader = "mgsweep-fingerprint 1";

struct FileKey {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

FileKey key_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) throw std::runtime_error(p.string() + ": cannot stat");
  return {static_cast<uint64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

bool is_model_file(const std::string& name) {
  auto ends = [&](const std::string& tail) {
    return name.size() >= tail.size() &&
           name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  return name == "config.json" || name == "tokenizer.json" || ends(".safetensors") ||
         ends(".safetensors.index.json");
}

struct CacheEntry {
  FileKey key;
  uint64_t digest = 0;
};

std::map<std::string, CacheEntry> read_cache(const fs::path& dir) {
  std::map<std::string, CacheEntry> out;
  std::ifstream in(dir / kCacheName);
  std::string line;
  if (!in || !std::getline(in, line) || line != kCacheHeader) return out;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string hex, name;
    CacheEntry e;
    if (!(ls >> hex >> e.key.size >> e.key.mtime_ns) || hex.size() != 16) continue;
    std::getline(ls >> std::ws, name);
    if (name.empty()) continue;
    e.digest = std::stoull(hex, nullptr, 16);
    out[name] = e;
  }
  return out;
}

// Best effort: a folder we cannot write (read-only, shared) just is not cached.
void write_cache(const fs::path& dir, const std::map<std::string, CacheEntry>& entries) {
  const fs::path tmp = dir / (std::string(kCacheName) + ".tmp." + std::to_string(::getpid()));
  {
    std::ofstream out(tmp);
    if (!out) return;
    out << kCacheHeader << "\n";
    for (const auto& [name, e] : entries)
      out << hex64(e.digest) << " " << e.key.size << " " << e.key.mtime_ns << " " << name << "\n";
    if (!out) {
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);
      return;
    }
  }
  std::error_code ec;
  fs::rename(tmp, dir / kCacheName, ec);
  if (ec) fs::remove(tmp, ec);
}

std::string combine(const std::vector<std::pair<std::string, std::string>>& lines) {
  std::string manifest;
  for (const auto& [name, rest] : lines) manifest += name + " " + rest + "\n";
  return "xxh64:" + hex64(xxh64(manifest.data(), manifest.size()));
}

std::string file_line(const fs::path& p) {
  return std::to_string(key_of(p).size) + " " + hex64(file_xxh64(p.string()));
}

std::string absolute_of(const std::string& p) {
  std::error_code ec;
  const fs::path a = fs::absolute(p, ec);
  return ec ? p : a.lexically_normal().string();
}

}  // namespace

Xxh64::Xxh64(uint64_t seed) : seed_(seed) {
  v_[0] = seed + kP1 + kP2;
  v_[1] = seed + kP2;
  v_[2] = seed;
  v_[3] = seed - kP1;
}

void Xxh64::update(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  total_ += n;
  if (buffered_ + n < 32) {
    std::memcpy(buf_ + buffered_, p, n);
    buffered_ += n;
    return;
  }
  if (buffered_) {
    const size_t take = 32 - buffered_;
    std::memcpy(buf_ + buffered_, p, take);
    for (int i = 0; i < 4; ++i) v_[i] = round64(v_[i], read64(buf_ + 8 * i));
    p += take, n -= take, buffered_ = 0;
  }
  uint64_t a = v_[0], b = v_[1], c = v_[2], d = v_[3];
  for (; n >= 32; p += 32, n -= 32) {
    a = round64(a, read64(p));
    b = round64(b, read64(p + 8));
    c = round64(c, read64(p + 16));
    d = round64(d, read64(p + 24));
  }
  v_[0] = a, v_[1] = b, v_[2] = c, v_[3] = d;
  std::memcpy(buf_, p, n);
  buffered_ = n;
}

uint64_t Xxh64::digest() const {
  uint64_t h;
  if (total_ >= 32) {
    h = rotl(v_[0], 1) + rotl(v_[1], 7) + rotl(v_[2], 12) + rotl(v_[3], 18);
    for (uint64_t v : v_) h = merge(h, v);
  } else {
    h = seed_ + kP5;
  }
  h += total_;
  const uint8_t* p = buf_;
  size_t n = buffered_;
  for (; n >= 8; p += 8, n -= 8) h = rotl(h ^ round64(0, read64(p)), 27) * kP1 + kP4;
  if (n >= 4) {
    h = rotl(h ^ (uint64_t(read32(p)) * kP1), 23) * kP2 + kP3;
    p += 4, n -= 4;
  }
  for (; n > 0; ++p, --n) h = rotl(h ^ (*p * kP5), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

uint64_t xxh64(const void* data, size_t n, uint64_t seed) {
  Xxh64 x(seed);
  x.update(data, n);
  return x.digest();
}

std::string hex64(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

uint64_t file_xxh64(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error(path + ": cannot open for its fingerprint");
  std::vector<uint8_t> buf(8 << 20);
  Xxh64 x;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) x.update(buf.data(), n);
  const bool bad = std::ferror(f);
  std::fclose(f);
  if (bad) throw std::runtime_error(path + ": read error while taking its fingerprint");
  return x.digest();
}

std::string model_fingerprint(const std::string& dir, uint64_t cache_from_bytes) {
  const fs::path d(dir);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(d))
    if (e.is_regular_file() && is_model_file(e.path().filename().string()))
      names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  if (std::find(names.begin(), names.end(), "config.json") == names.end())
    throw InputError(dir, "model", "has no config.json", "give a MusicGen checkpoint folder");
  uint64_t total = 0;
  for (const std::string& name : names) total += key_of(d / name).size;
  const bool use_cache = total >= cache_from_bytes;
  const auto cache = use_cache ? read_cache(d) : std::map<std::string, CacheEntry>{};
  std::map<std::string, CacheEntry> now;
  std::vector<std::pair<std::string, std::string>> lines;
  bool changed = false;
  for (const std::string& name : names) {
    const FileKey k = key_of(d / name);
    const auto it = cache.find(name);
    CacheEntry e{k, 0};
    if (it != cache.end() && it->second.key.size == k.size &&
        it->second.key.mtime_ns == k.mtime_ns) {
      e.digest = it->second.digest;
    } else {
      e.digest = file_xxh64((d / name).string());
      changed = true;
    }
    now[name] = e;
    lines.emplace_back(name, std::to_string(k.size) + " " + hex64(e.digest));
  }
  if (use_cache && (changed || now.size() != cache.size())) write_cache(d, now);
  return combine(lines);
}

std::string classifier_fingerprint(const JobSpec& spec) {
  std::vector<std::pair<std::string, std::string>> lines;
  if (spec.classifier.kind == "demo") {
    // The demo classifier is code, not a file: its fixed parameters name it (its input length
    // follows from the job and the model, which the spec hash and model fingerprint cover).
    const mg::DemoOptions o;
    lines.emplace_back("demo(sample_rate=" + std::to_string(o.sample_rate) +
                           ",n_fft=" + std::to_string(o.n_fft) + ",hop=" + std::to_string(o.hop) +
                           ",n_mels=" + std::to_string(o.n_mels) + ",seed=" + hex64(o.seed) + ")",
                       "");
  } else {
    lines.emplace_back(fs::path(spec.classifier.path).filename().string(),
                       file_line(spec.classifier.path));
  }
  // Not the job's label CSV: it names classes, it does not change a logit (and a migrated
  // spec does not locate it as the run did).
  return combine(lines);
}

Fingerprints job_fingerprints(const JobSpec& spec, bool lenient) {
  Fingerprints f;
  f.model_path = absolute_of(spec.model);
  f.classifier_path =
      spec.classifier.kind == "demo" ? std::string("demo") : absolute_of(spec.classifier.path);
  std::error_code ec;
  const bool model_here = fs::is_regular_file(fs::path(spec.model) / "config.json", ec);
  const bool classifier_here =
      spec.classifier.kind == "demo" || fs::is_regular_file(spec.classifier.path, ec);
  f.model = lenient && !model_here ? kUnknownFingerprint : model_fingerprint(spec.model);
  f.classifier = lenient && !classifier_here ? kUnknownFingerprint : classifier_fingerprint(spec);
  return f;
}

void check_fingerprints(const Store& store, const Fingerprints& now, const std::string& where) {
  struct Which {
    const char* what;
    const char* attr;
    const char* path_attr;
    const std::string& fp;
    const std::string& path;
  };
  const Which all[] = {{"model", kModelFingerprintAttr, kModelPathAttr, now.model, now.model_path},
                       {"classifier", kClassifierFingerprintAttr, kClassifierPathAttr,
                        now.classifier, now.classifier_path}};
  std::string unknown;
  for (const Which& w : all) {
    const std::string had =
        store.has_attribute(w.attr) ? store.attribute(w.attr) : std::string(kUnknownFingerprint);
    if (had == kUnknownFingerprint) {
      unknown += std::string(unknown.empty() ? "" : " and ") + w.what;
      continue;
    }
    if (had == w.fp) continue;
    const std::string had_path =
        store.has_attribute(w.path_attr) ? store.attribute(w.path_attr) : std::string("?");
    throw InputError(where, w.attr,
                     std::string("was made with the ") + w.what + " " + had_path +
                         " (fingerprint " + had + "), but this run's " + w.what + " " + w.path +
                         " has fingerprint " + w.fp +
                         ": resuming would mix results of two different " + w.what + "s",
                     std::string("use the original ") + w.what + " (" + had_path +
                         "), or --store a new path for this one");
  }
  if (!unknown.empty())
    std::fprintf(stderr,
                 "run: warning: %s records no %s fingerprint (\"unknown\": it was migrated from "
                 "an older schema without the %s at hand); this run cannot check that it uses the "
                 "%s the results were made with\n",
                 where.c_str(), unknown.c_str(), unknown.c_str(), unknown.c_str());
}

}  // namespace mg::sweep
