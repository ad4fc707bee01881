// Fingerprints of what a store's results were computed with: the model's files and the
// classifier. The spec hash covers the job's settings but not the bytes behind its paths, so a
// store resumed where the relative path `model` names other weights would otherwise mix two
// models' results without a word. The store records both fingerprints at creation (root
// attributes model_fingerprint, classifier_fingerprint; the paths they were taken from in
// created_with_model_path, created_with_classifier_path) and a resume refuses a mismatch.
//
// Fingerprint text: "xxh64:" + 16 hex digits of XXH64 (seed 0) over a manifest with one line
// "NAME SIZE DIGEST\n" per file, DIGEST the file's own XXH64 in 16 hex digits, files sorted by
// name:
//   model       MODEL_DIR's config.json, tokenizer.json (if present), every *.safetensors
//               (header and tensor data: every byte) and *.safetensors.index.json;
//   classifier  the TorchScript file (its mgsweep.json and labels.csv are inside it); for the
//               built-in demo classifier the one line "demo(" + its fixed parameters + ") ",
//               hashed likewise.
// "unknown": not recorded (a store migrated from schema 2 without its model at hand).
//
// Hashing streams every byte once (XXH64 runs at memory speed; see README for the measured
// rate). So that a multi-GB checkpoint is not read on every resume, the per-file digests are
// cached in MODEL_DIR/.mgsweep-fingerprint keyed by each file's size and mtime (nanoseconds);
// a read-only folder is simply not cached, nor is a model under 64 MiB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "sweep/spec.h"
#include "sweep/store.h"

namespace mg::sweep {

inline constexpr const char* kUnknownFingerprint = "unknown";
inline constexpr const char* kModelFingerprintAttr = "model_fingerprint";
inline constexpr const char* kClassifierFingerprintAttr = "classifier_fingerprint";
inline constexpr const char* kModelPathAttr = "created_with_model_path";
inline constexpr const char* kClassifierPathAttr = "created_with_classifier_path";

// XXH64 (Collet's xxHash, 64-bit), streaming; equal to the reference implementation.
class Xxh64 {
 public:
  explicit Xxh64(uint64_t seed = 0);
  void update(const void* data, size_t n);
  uint64_t digest() const;

 private:
  uint64_t v_[4];
  uint64_t seed_;
  uint64_t total_ = 0;
  uint8_t buf_[32];
  size_t buffered_ = 0;
};
uint64_t xxh64(const void* data, size_t n, uint64_t seed = 0);
std::string hex64(uint64_t v);  // 16 lowercase hex digits

// XXH64 of a file's bytes; std::runtime_error when it cannot be read.
uint64_t file_xxh64(const std::string& path);

struct Fingerprints {
  std::string model, classifier;            // "xxh64:..." or "unknown"
  std::string model_path, classifier_path;  // absolute paths they were taken from
};

// Below this many bytes of files a model is hashed in milliseconds and not cached (no file
// left in test fixtures and random tiny models).
inline constexpr uint64_t kCacheFromBytes = 64ull << 20;

// Fingerprint of a model folder (see above); uses and refreshes the cache file when its files
// hold at least `cache_from_bytes`.
std::string model_fingerprint(const std::string& dir, uint64_t cache_from_bytes = kCacheFromBytes);
// The job's classifier ("demo" or its TorchScript file).
std::string classifier_fingerprint(const JobSpec& spec);
// Both, for the job; `lenient`: "unknown" for a path that does not exist (migrate) instead
// of an error.
Fingerprints job_fingerprints(const JobSpec& spec, bool lenient = false);

// Resume: InputError when a fingerprint the store recorded differs from `now` (naming both
// fingerprints and paths, and the fix); one warning on stderr when the store's is "unknown"
// or missing. The store's attributes are those Store::attribute reads.
void check_fingerprints(const Store& store, const Fingerprints& now, const std::string& where);

}  // namespace mg::sweep
