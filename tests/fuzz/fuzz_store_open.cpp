// libFuzzer target: a store and its journal on open and on resume (mg::sweep::Store::
// open_read_only and Store::open), as `mgsweep status` and a resumed `mgsweep run` see them.
//
// Input: [mode] [mutation] [n] [n argument bytes] [journal bytes]. Every run starts from a
// small store that the store code itself made (every element type, a scalar, an empty
// dataset, strings, attributes; one checkpoint done). `mutation` then edits its HDF5 file
// through the HDF5 API (so that what is fuzzed is our validation of a file HDF5 can read,
// not HDF5's own parser): a root attribute's value or type, the generation, a dataset
// deleted, re-shaped, re-typed, chunked, left unallocated or replaced by a group, a second
// name for a dataset, a soft or external link. The journal bytes become PATH.journal: with
// mode bit 0 after the store's own header; bit 1 makes them checksum-valid and bit 2 stamps
// the records with the store's generation (journal_fixup.h), so the record checks behind
// the checksums are reached; bit 3 also opens the store for writing (a resume: records are
// replayed into the file).
//
// Must hold: every open either succeeds or throws mg::InputError with a one-line message;
// an open store reads every dataset; a resume that succeeds sees what a read-only open saw
// before it (the same records, laid over the same file), and after close() a read-only
// open sees that again from the file alone (the replay reached the file).
//
// Seed corpus: MGSWEEP_FUZZ_WRITE_SEEDS=DIR fuzz_store_open writes, from journals that the
// store's put() wrote, DIR/store/* (for this target) and DIR/journal/* (for fuzz_journal),
// then exits (tools/fuzz.sh does this before fuzzing).
#include <hdf5.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "journal_fixup.h"
#include "musicgen/errors.h"
#include "sweep/journal.h"
#include "sweep/store.h"

namespace fs = std::filesystem;
using mg::sweep::ElemType;
using mg::sweep::Store;

namespace {

std::string g_dir;          // a private folder in /dev/shm (fsync is free there)
std::string g_template;     // the pristine store's HDF5 bytes
std::string g_store;        // g_dir/s.h5
mg::sweep::StoreId g_id{};  // the pristine store's id
uint64_t g_generation = 0;  // ... and its generation
const char* kDatasets[] = {"/baseline/logits",     "/baseline/done",        "/lens/ndcg",
                           "/interventions/codes", "/interventions/status", "/means/sum",
                           "/meta/seconds",        "/meta/empty",           "/prompts",
                           "/_store/generation"};
constexpr size_t kNumDatasets = sizeof(kDatasets) / sizeof(kDatasets[0]);
// Whether Store::open refuses a dataset reachable by two names (see mutation 10).
constexpr bool kStoreRefusesAliases = true;
const char* kAttrs[] = {"mgsweep_store_format", "mgsweep_store_id", "spec_hash", "schema"};

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
void write_file(const std::string& p, const void* data, size_t n) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}

mg::sweep::StoreLayout layout() {
  mg::sweep::StoreLayout l;
  l.datasets = {
      {"/baseline/logits", ElemType::F32, {2, 3, 4}, NAN, "logits", {}},
      {"/baseline/done", ElemType::U8, {2, 3}, 0, "", {}},
      {"/lens/ndcg", ElemType::F64, {2, 3, 2}, NAN, "", {}},
      {"/interventions/codes", ElemType::I16, {2, 2, 3}, -1, "", {}},
      {"/interventions/status", ElemType::I32, {4}, 0, "", {}},
      {"/means/sum", ElemType::I64, {3, 2}, 0, "", {}},
      {"/meta/seconds", ElemType::F64, {}, 0, "a scalar", {}},
      {"/meta/empty", ElemType::F32, {0, 2}, 0, "", {}},
  };
  l.attributes = {{"spec_hash", "0123456789abcdef"}, {"schema", "mgsweep.store/2"}};
  l.string_datasets = {{"/prompts", {"a prompt", "another"}}};
  return l;
}

// Real records of every element type, the way the coordinator writes them.
void put_some(Store& s, int round) {
  s.put<float>("/baseline/logits", {1, 0, 0}, {1, 2, 4},
               std::vector<float>(8, 0.5f + static_cast<float>(round)));
  s.put<uint8_t>("/baseline/done", {1, 0}, {1, 2}, {1, 1});
  s.put<double>("/lens/ndcg", {0, 1, 0}, {2, 1, 2}, {0.1, 0.2, 0.3, 0.4});
  s.put<int16_t>("/interventions/codes", {0, 0, 0}, {1, 2, 3}, {1, 2, 3, 4, 5, 6});
  s.put<int32_t>("/interventions/status", {3}, {1}, {2});
  s.put<int64_t>("/means/sum", {0, 0}, {3, 2}, {1, -2, 3, -4, 5, -6});
  s.put<double>("/meta/seconds", {}, {}, {1.5 * round});
}

void write_seeds(const std::string& out) {
  fs::create_directories(out + "/store");
  fs::create_directories(out + "/journal");
  const std::string p = g_dir + "/seed.h5";
  std::unique_ptr<Store> s = Store::create(p, layout());
  put_some(*s, 1);
  s->checkpoint();
  put_some(*s, 2);
  // The journal as the crash of a run would leave it: header + records of this generation.
  const std::string j = read_file(Store::journal_path(p));
  s.reset();  // no checkpoint: the records stay in the journal
  const std::string body = j.substr(mg::sweep::kJournalHeaderSize);
  auto seed = [&](const std::string& name, uint8_t mode, uint8_t mutation, const std::string& arg,
                  const std::string& journal) {
    std::string b;
    b += static_cast<char>(mode);
    b += static_cast<char>(mutation);
    b += static_cast<char>(arg.size());
    b += arg + journal;
    write_file(out + "/store/" + name, b.data(), b.size());
  };
  // Header from the store itself (bit 0), checksums fixed, generation stamped, resumed.
  seed("records_resume", 1 | 2 | 4 | 8, 0, "", body);
  seed("records_read_only", 1 | 2 | 4, 0, "", body);
  seed("empty_journal", 1 | 8, 0, "", "");
  seed("no_header", 8, 0, "", body);
  for (uint8_t m = 1; m <= 12; ++m)
    seed("mutation_" + std::to_string(m), 1 | 2 | 4 | 8, m, std::string("\x01\x02\x03", 3), body);
  // fuzz_journal's: mode byte (0: as written), then the whole journal.
  const std::string jseed = std::string(1, '\0') + j;
  write_file(out + "/journal/store_journal", jseed.data(), jseed.size());
  const std::string hseed = std::string(1, '\0') + j.substr(0, mg::sweep::kJournalHeaderSize);
  write_file(out + "/journal/header_only", hseed.data(), hseed.size());
}

// --- mutations of the HDF5 file ---------------------------------------------------------

hid_t utf8_vlen() {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

void set_string_attr(hid_t loc, const char* name, const std::string& value) {
  if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
  hid_t t = utf8_vlen(), sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
  const std::string v = value.substr(0, value.find('\0'));
  const char* p = v.c_str();
  if (a >= 0) H5Awrite(a, t, &p), H5Aclose(a);
  H5Sclose(sp), H5Tclose(t);
}

void set_int_attr(hid_t loc, const char* name, int32_t value) {
  if (H5Aexists(loc, name) > 0) H5Adelete(loc, name);
  hid_t sp = H5Screate(H5S_SCALAR);
  hid_t a = H5Acreate2(loc, name, H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) H5Awrite(a, H5T_NATIVE_INT32, &value), H5Aclose(a);
  H5Sclose(sp);
}

// A dataset at `name` (replacing what is there) of `type` and `dims`, written with zeros
// unless `allocate` is false; `chunked`: chunked storage instead of contiguous.
void make_dataset(hid_t f, const char* name, hid_t type, const std::vector<hsize_t>& dims,
                  bool chunked, bool allocate) {
  if (H5Lexists(f, name, H5P_DEFAULT) > 0) H5Ldelete(f, name, H5P_DEFAULT);
  hid_t sp = dims.empty() ? H5Screate(H5S_SCALAR)
                          : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  if (chunked && !dims.empty()) {
    std::vector<hsize_t> chunk(dims.size(), 1);
    H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data());
  }
  if (!allocate) H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_LATE);
  hid_t d = H5Dcreate2(f, name, type, sp, lcpl, dcpl, H5P_DEFAULT);
  if (d >= 0) {
    if (allocate && H5Tget_class(type) != H5T_STRING) {
      hsize_t n = 1;
      for (hsize_t x : dims) n *= x;
      std::vector<uint8_t> zeros(static_cast<size_t>(n) * H5Tget_size(type) + 16, 0);
      H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data());
    }
    H5Dclose(d);
  }
  H5Pclose(lcpl), H5Pclose(dcpl), H5Sclose(sp);
}

void mutate(uint8_t which, const std::string& arg, uint64_t* generation) {
  const uint8_t a0 = arg.empty() ? 0 : static_cast<uint8_t>(arg[0]);
  const uint8_t a1 = arg.size() < 2 ? 0 : static_cast<uint8_t>(arg[1]);
  const char* ds = kDatasets[a0 % kNumDatasets];
  const char* attr = kAttrs[a0 % 4];
  hid_t f = H5Fopen(g_store.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) __builtin_trap();  // the pristine store must open
  // Small dimensions from the argument: 0..3 each, rank 0..3.
  std::vector<hsize_t> dims;
  for (size_t i = 2; i < arg.size() && i < 2 + (a1 & 3); ++i) dims.push_back(arg[i] & 3);
  static const hid_t kTypes[] = {H5T_STD_I8LE,  H5T_STD_U16LE, H5T_STD_U64LE,  H5T_IEEE_F32BE,
                                 H5T_STD_I64BE, H5T_STD_U8LE,  H5T_IEEE_F64LE, H5T_STD_I16LE,
                                 H5T_STD_I32LE, H5T_STD_I64LE, H5T_IEEE_F32LE, H5T_STD_B8LE};
  switch (which % 13) {
    case 0:
      break;
    case 1:  // a root attribute's value
      set_string_attr(f, attr, arg.size() > 1 ? arg.substr(1) : std::string());
      break;
    case 2:  // a root attribute of another type
      set_int_attr(f, attr, a1);
      break;
    case 3: {  // the generation
      int64_t g = 0;
      for (size_t i = 1; i < arg.size() && i < 9; ++i)
        g |= static_cast<int64_t>(static_cast<uint8_t>(arg[i])) << (8 * (i - 1));
      hid_t d = H5Dopen2(f, "/_store/generation", H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &g);
      H5Dclose(d);
      *generation = static_cast<uint64_t>(g);
      break;
    }
    case 4:  // a dataset deleted
      H5Ldelete(f, ds, H5P_DEFAULT);
      break;
    case 5: {  // ... re-shaped, same type
      hid_t d = H5Dopen2(f, ds, H5P_DEFAULT);
      hid_t t = H5Dget_type(d);
      H5Dclose(d);
      make_dataset(f, ds, t, dims, false, true);
      H5Tclose(t);
      break;
    }
    case 6:  // ... re-typed
      make_dataset(f, ds, kTypes[a1 % 12], dims, false, true);
      break;
    case 7:  // ... chunked
      make_dataset(f, ds, kTypes[a1 % 12], dims, true, true);
      break;
    case 8:  // ... not allocated
      make_dataset(f, ds, kTypes[a1 % 12], dims, false, false);
      break;
    case 9: {  // ... a group instead
      H5Ldelete(f, ds, H5P_DEFAULT);
      hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
      H5Pset_create_intermediate_group(lcpl, 1);
      hid_t g = H5Gcreate2(f, ds, lcpl, H5P_DEFAULT, H5P_DEFAULT);
      if (g >= 0) H5Gclose(g);
      H5Pclose(lcpl);
      break;
    }
    case 10:  // a second name for a dataset (one object, two names)
      // The store refuses such a file (Store::Impl::load): otherwise a read-only open would
      // lay a journal record over the name it names only, while the replay of a resume
      // changes the object behind both (regressions/fuzz_store_open/hard_link_alias).
      if (!kStoreRefusesAliases) break;
      H5Lcreate_hard(f, ds, f, (std::string(ds) + "_alias").c_str(), H5P_DEFAULT, H5P_DEFAULT);
      break;
    case 11:  // a soft link, an external link to nowhere
      H5Lcreate_soft(ds, f, "/soft", H5P_DEFAULT, H5P_DEFAULT);
      H5Lcreate_external("missing.h5", "/x", f, "/external", H5P_DEFAULT, H5P_DEFAULT);
      break;
    case 12:  // a dataset's doc attribute of another type, or a string dataset in its place
      if (a1 & 1) {
        hid_t d = H5Oopen(f, ds, H5P_DEFAULT);
        if (d >= 0) set_int_attr(d, "doc", a1), H5Oclose(d);
      } else {
        hid_t t = utf8_vlen();
        make_dataset(f, ds, t, dims, false, false);
        H5Tclose(t);
      }
      break;
  }
  if (H5Fclose(f) < 0) __builtin_trap();
}

// --- what an open store shows ------------------------------------------------------------

struct View {
  std::map<std::string, std::string> attributes;
  std::map<std::string, std::vector<uint8_t>> data;  // numeric datasets: the bytes
  std::map<std::string, std::vector<std::string>> strings;
  uint64_t generation = 0;
  bool operator==(const View& o) const {
    return attributes == o.attributes && data == o.data && strings == o.strings;
  }
};

View view(const Store& s) {
  View v;
  v.attributes = s.attributes();
  v.generation = s.generation();
  for (const std::string& name : s.datasets()) {
    const std::vector<uint64_t> shape = s.shape(name);
    uint64_t n = mg::sweep::elem_size(s.type(name));
    for (uint64_t d : shape) n *= d;
    if (n > (1u << 20)) __builtin_trap();  // our mutations make nothing this big
    std::vector<uint8_t> bytes(static_cast<size_t>(n));
    s.read(name, Store::Index(shape.size(), 0), shape, bytes.data(), bytes.size());
    v.data[name] = std::move(bytes);
  }
  for (const std::string& name : s.string_datasets()) v.strings[name] = s.read_strings(name);
  return v;
}

// Where two views differ (printed before a trap: the finding says what broke).
void explain(const char* what, const View& a, const View& b) {
  std::fprintf(stderr, "%s:\n", what);
  if (a.attributes != b.attributes) std::fprintf(stderr, "  root attributes differ\n");
  for (const auto& [name, bytes] : a.data) {
    auto it = b.data.find(name);
    if (it == b.data.end())
      std::fprintf(stderr, "  %s: only in the first\n", name.c_str());
    else if (it->second != bytes)
      std::fprintf(stderr, "  %s: other values\n", name.c_str());
  }
  for (const auto& [name, bytes] : b.data)
    if (!a.data.count(name)) std::fprintf(stderr, "  %s: only in the second\n", name.c_str());
  if (a.strings != b.strings) std::fprintf(stderr, "  string datasets differ\n");
}

bool g_verbose = false;  // MGSWEEP_FUZZ_VERBOSE=1: say what became of each input (seed checks)

template <class F>
bool opens(const char* what, F open_it, std::unique_ptr<Store>* out) {
  try {
    *out = open_it();
    if (g_verbose) std::fprintf(stderr, "%s: opened\n", what);
    return true;
  } catch (const mg::InputError& e) {
    fuzz::check_error_line(e.what());
    if (g_verbose) std::fprintf(stderr, "%s: refused: %s\n", what, e.what());
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // our mutations fail often; quietly
  g_verbose = std::getenv("MGSWEEP_FUZZ_VERBOSE") != nullptr;
  g_dir = fuzz::private_dir("store");
  const std::string p = g_dir + "/template.h5";
  {
    std::unique_ptr<Store> s = Store::create(p, layout());
    put_some(*s, 1);
    s->checkpoint();
    g_generation = s->generation();
    mg::sweep::from_hex(s->store_id(), &g_id);
    s->close();
  }
  g_template = read_file(p);
  g_store = g_dir + "/s.h5";
  if (const char* seeds = std::getenv("MGSWEEP_FUZZ_WRITE_SEEDS")) {
    write_seeds(seeds);
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t mode = data[0], mutation = data[1];
  const size_t n = data[2];
  if (size < 3 + n) return 0;
  const std::string arg(reinterpret_cast<const char*>(data + 3), n);

  write_file(g_store, g_template.data(), g_template.size());
  uint64_t generation = g_generation;
  mutate(mutation, arg, &generation);
  std::vector<uint8_t> journal;
  if (mode & 1) journal = mg::sweep::encode_journal_header(g_id);
  journal.insert(journal.end(), data + 3 + n, data + size);
  if (mode & 2) fuzz::fix_journal(&journal, mode & 4, generation);
  write_file(Store::journal_path(g_store), journal.data(), journal.size());

  std::unique_ptr<Store> ro;
  const bool ro_ok = opens(
      "read-only open", [&] { return Store::open_read_only(g_store); }, &ro);
  View before;
  if (ro_ok) {
    before = view(*ro);
    ro.reset();
  }
  if (!(mode & 8)) return 0;
  std::unique_ptr<Store> rw;
  if (!opens(
          "resume", [&] { return Store::open(g_store); }, &rw))
    return 0;
  // A file that a resume accepts is one a read-only open accepts (it validates first).
  if (!ro_ok) __builtin_trap();
  const View resumed = view(*rw);
  if (!(resumed == before)) {
    explain("a resume sees other data than a read-only open did", before, resumed);
    __builtin_trap();
  }
  rw->close();
  rw.reset();
  std::unique_ptr<Store> after;
  if (!opens(
          "reopen", [&] { return Store::open_read_only(g_store, /*include_journal=*/false); },
          &after))
    __builtin_trap();  // a store we just closed must open again
  const View reopened = view(*after);
  if (!(reopened == before)) {
    explain("after the resume's close the file holds other data", before, reopened);
    __builtin_trap();
  }
  return 0;
}
