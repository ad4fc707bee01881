// mg::parse_safetensors / SafetensorsFile against truncated and lying files: every
// malformed header must end in an InputError that names the file and the field,
// never in a crash or an out-of-bounds read. Also the writer round trip.
#include "musicgen/safetensors.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "musicgen/errors.h"

namespace {

namespace fs = std::filesystem;

const std::string kFile = "bad.safetensors";

// A file: the u64 little-endian length `len` (default: the header's size), the header
// text and `data_bytes` zero bytes.
std::vector<uint8_t> st_bytes(const std::string& header, size_t data_bytes = 0, int64_t len = -1) {
  const uint64_t n = len < 0 ? header.size() : static_cast<uint64_t>(len);
  std::vector<uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data_bytes, 0);
  return out;
}

mg::StHeader parse(const std::vector<uint8_t>& b) {
  return mg::parse_safetensors(b.data(), b.size(), kFile);
}

// Parses `b`, expects an InputError naming kFile and a field containing `field`, and
// returns the message.
std::string expect_error(const std::vector<uint8_t>& b, const std::string& field) {
  try {
    parse(b);
  } catch (const mg::InputError& e) {
    EXPECT_EQ(e.file(), kFile);
    EXPECT_NE(e.field().find(field), std::string::npos)
        << "field '" << e.field() << "' does not name " << field << "; message: " << e.what();
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind(kFile, 0), 0u) << msg;
    return msg;
  }
  ADD_FAILURE() << "no InputError for a file that should name " << field;
  return "";
}

// One tensor entry.
std::string entry(const std::string& name, const std::string& body) {
  return "\"" + name + "\":{" + body + "}";
}

TEST(Safetensors, ShorterThanEightBytes) {
  for (size_t n : {0u, 1u, 7u}) {
    std::vector<uint8_t> b(n, 0);
    // data() of an empty vector may be null: the parser must not touch it.
    const std::string msg = expect_error(b, "header length");
    EXPECT_NE(msg.find("shorter than 8 bytes"), std::string::npos) << msg;
  }
}

TEST(Safetensors, HeaderLengthPastTheEnd) {
  expect_error(st_bytes("{}", 0, 3), "header length");
  expect_error(st_bytes("{}", 0, 1000), "header length");
  expect_error(st_bytes("{}", 0, INT64_MAX), "header length");
  // u64 max: size - 8 + n must not wrap around.
  std::vector<uint8_t> b = st_bytes("{}");
  std::memset(b.data(), 0xff, 8);
  const std::string msg = expect_error(b, "header length");
  EXPECT_NE(msg.find("18446744073709551615"), std::string::npos) << msg;
  // Over 100 MB of header is refused before anything is allocated.
  expect_error(st_bytes("{}", 0, int64_t(200) << 20), "header length");
}

TEST(Safetensors, HeaderNotJson) {
  expect_error(st_bytes(""), "header");
  expect_error(st_bytes("{\"a\":"), "header");
  expect_error(st_bytes("not json at all"), "header");
  expect_error(st_bytes("{\"x\":{\"dtype\":\"F32\"}} trailing"), "header");
  expect_error(st_bytes(std::string("{\"\xff\xfe\":1}")), "header");  // not UTF-8
  // A header length that cuts the JSON short.
  expect_error(st_bytes("{\"__metadata__\":{}}", 0, 5), "header");
}

TEST(Safetensors, HeaderNotAnObject) {
  for (const char* h : {"[]", "[1,2]", "\"str\"", "42", "null", "true"})
    expect_error(st_bytes(h), "header");
}

TEST(Safetensors, DeeplyNestedHeaderDoesNotOverflowTheStack) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  expect_error(st_bytes(deep), "header");
  const std::string deep_obj =
      "{\"__metadata__\":" + std::string(50000, '[') + "1" + std::string(50000, ']') + "}";
  expect_error(st_bytes(deep_obj), "__metadata__");
}

TEST(Safetensors, MetadataMustBeAnObject) {
  expect_error(st_bytes("{\"__metadata__\":[1]}"), "__metadata__");
  expect_error(st_bytes("{\"__metadata__\":\"x\"}"), "__metadata__");
  // Non-string values are skipped, strings kept.
  mg::StHeader h = parse(st_bytes("{\"__metadata__\":{\"format\":\"pt\",\"n\":3}}"));
  EXPECT_TRUE(h.tensors.empty());
  ASSERT_EQ(h.metadata.size(), 1u);
  EXPECT_EQ(h.metadata.at("format"), "pt");
}

TEST(Safetensors, TensorEntryNotAnObject) {
  expect_error(st_bytes("{\"w\":[1,2]}"), "w");
  expect_error(st_bytes("{\"w\":\"F32\"}"), "w");
  expect_error(st_bytes("{\"w\":null}"), "w");
}

TEST(Safetensors, EntryMissingAField) {
  const std::string d = "\"dtype\":\"F32\"", s = "\"shape\":[2]", o = "\"data_offsets\":[0,8]";
  expect_error(st_bytes("{" + entry("w", s + "," + o) + "}", 8), "w.dtype");
  expect_error(st_bytes("{" + entry("w", d + "," + o) + "}", 8), "w.shape");
  expect_error(st_bytes("{" + entry("w", d + "," + s) + "}", 8), "w.data_offsets");
  expect_error(st_bytes("{" + entry("w", "") + "}", 8), "w.dtype");
  // Present but null counts as missing.
  expect_error(st_bytes("{" + entry("w", "\"dtype\":null," + s + "," + o) + "}", 8), "w.dtype");
  expect_error(st_bytes("{" + entry("w", d + ",\"shape\":null," + o) + "}", 8), "w.shape");
}

TEST(Safetensors, UnsupportedDtype) {
  const std::string rest = ",\"shape\":[2],\"data_offsets\":[0,8]";
  for (const char* dt : {"\"F8_E4M3\"", "\"f32\"", "\"\"", "\"C64\"", "32", "[\"F32\"]", "{}"}) {
    const std::string msg = expect_error(
        st_bytes("{" + entry("w", std::string("\"dtype\":") + dt + rest) + "}", 8), "w.dtype");
    EXPECT_NE(msg.find("F32"), std::string::npos) << "lists the supported dtypes: " << msg;
  }
}

TEST(Safetensors, NamesInErrorsStayOnOneLine) {
  // A tensor name with a newline (JSON "\n") is shown escaped; a huge one is cut.
  const std::string msg =
      expect_error(st_bytes("{" + entry("a\\nb\\u0007", "\"dtype\":\"X\"") + "}"), "a\\x0ab\\x07");
  EXPECT_EQ(msg.find('\a'), std::string::npos) << msg;
  const std::string long_name(100000, 'n');
  const std::string m2 = expect_error(st_bytes("{" + entry(long_name, "") + "}"), "nnn...");
  EXPECT_LT(m2.size(), 1000u);
}

TEST(Safetensors, BadDimensions) {
  auto with_shape = [](const std::string& shape) {
    return st_bytes(
        "{" + entry("w", "\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,8]") + "}",
        8);
  };
  for (const char* s : {"[-2]", "[2.0]", "[2.5]", "[\"2\"]", "[null]", "[[2]]", "[1e3]", "2",
                        "\"[2]\"", "{}", "[-0.0]", "[1,-1]"})
    expect_error(with_shape(s), "w.shape");
}

TEST(Safetensors, AbsurdShapesOverflow) {
  auto with_shape = [](const std::string& shape, const std::string& offsets = "[0,0]") {
    return st_bytes(
        "{" + entry("w", "\"dtype\":\"F64\",\"shape\":" + shape + ",\"data_offsets\":" + offsets) +
            "}",
        8);
  };
  // The element count wraps around 2^64 (2^32 * 2^32 = 0 mod 2^64).
  expect_error(with_shape("[4294967296,4294967296]"), "w.shape");
  expect_error(with_shape("[18446744073709551615]"), "w.shape");
  expect_error(with_shape("[65536,65536,65536,65536,65536]"), "w.shape");
  // numel * 8 bytes would wrap even though numel fits.
  expect_error(with_shape("[2305843009213693952]"), "w.shape");
  // A zero dimension makes the element count 0, but the other dimensions still have to
  // be representable: they end up as int64 tensor sizes and strides.
  expect_error(with_shape("[0,18446744073709551615]"), "w.shape");
  expect_error(with_shape("[0,9223372036854775808]"), "w.shape");
  expect_error(with_shape("[0,4611686018427387904,4611686018427387904]"), "w.shape");
  // Large but sane: an empty tensor with one big dimension is fine.
  mg::StHeader h = parse(with_shape("[0,1000000]"));
  ASSERT_EQ(h.tensors.size(), 1u);
  EXPECT_EQ(h.tensors[0].numel(), 0);
  EXPECT_EQ(h.tensors[0].shape, (std::vector<int64_t>{0, 1000000}));
}

TEST(Safetensors, OffsetsMalformed) {
  auto with_offsets = [](const std::string& o) {
    return st_bytes("{" + entry("w", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + o) + "}",
                    8);
  };
  for (const char* o : {"[0]", "[0,8,16]", "[]", "[-8,0]", "[0,-8]", "[0,8.0]", "[\"0\",8]", "8",
                        "{\"0\":8}", "[null,8]"})
    expect_error(with_offsets(o), "w.data_offsets");
}

TEST(Safetensors, OffsetsOutOfRange) {
  auto with_offsets = [](const std::string& o, size_t data = 8) {
    return st_bytes("{" + entry("w", "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + o) + "}",
                    data);
  };
  std::string msg = expect_error(with_offsets("[8,16]"), "w.data_offsets");
  EXPECT_NE(msg.find("8-byte data section"), std::string::npos) << msg;
  expect_error(with_offsets("[0,8]", 7), "w.data_offsets");  // the file is one byte short
  expect_error(with_offsets("[0,9]"), "w.data_offsets");
  expect_error(with_offsets("[18446744073709551608,18446744073709551615]"), "w.data_offsets");
  // begin + size would wrap around if it were computed that way.
  expect_error(with_offsets("[18446744073709551615,7]"), "w.data_offsets");
}

TEST(Safetensors, BeginAfterEnd) {
  const std::string msg = expect_error(
      st_bytes("{" + entry("w", "\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]") + "}", 8),
      "w.data_offsets");
  EXPECT_NE(msg.find("[8, 0)"), std::string::npos) << msg;
}

TEST(Safetensors, ByteCountDisagreesWithDtypeAndShape) {
  auto file = [](const std::string& dtype, const std::string& shape, const std::string& o) {
    return st_bytes("{" +
                        entry("w", "\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
                                       ",\"data_offsets\":" + o) +
                        "}",
                    64);
  };
  std::string msg = expect_error(file("F32", "[2,3]", "[0,20]"), "w.data_offsets");
  EXPECT_NE(msg.find("need 24"), std::string::npos) << msg;
  expect_error(file("F16", "[4]", "[0,16]"), "w.data_offsets");
  expect_error(file("I64", "[]", "[0,4]"), "w.data_offsets");  // a scalar holds 8 bytes
  expect_error(file("U8", "[0]", "[0,1]"), "w.data_offsets");
  // ... and the right counts parse.
  EXPECT_EQ(parse(file("F32", "[2,3]", "[0,24]")).tensors.at(0).numel(), 6);
  EXPECT_EQ(parse(file("I64", "[]", "[0,8]")).tensors.at(0).numel(), 1);
  EXPECT_EQ(parse(file("BF16", "[2,0,5]", "[3,3]")).tensors.at(0).numel(), 0);
}

TEST(Safetensors, OverlappingTensors) {
  auto t = [](const std::string& name, int b, int e) {
    return entry(name, "\"dtype\":\"U8\",\"shape\":[" + std::to_string(e - b) +
                           "],\"data_offsets\":[" + std::to_string(b) + "," + std::to_string(e) +
                           "]");
  };
  std::string msg =
      expect_error(st_bytes("{" + t("a", 0, 8) + "," + t("b", 4, 12) + "}", 16), "data_offsets");
  EXPECT_TRUE(msg.find("overlaps") != std::string::npos) << msg;
  expect_error(st_bytes("{" + t("a", 0, 8) + "," + t("b", 0, 8) + "}", 16), "data_offsets");
  // b lies inside a.
  expect_error(st_bytes("{" + t("a", 0, 16) + "," + t("b", 4, 8) + "}", 16), "data_offsets");
  // Three-way: b and c both inside a.
  expect_error(st_bytes("{" + t("a", 0, 16) + "," + t("b", 2, 4) + "," + t("c", 8, 12) + "}", 16),
               "data_offsets");
  // An empty tensor between them must not hide the overlap of a and c.
  expect_error(st_bytes("{" + t("a", 0, 16) + "," + t("e", 4, 4) + "," + t("c", 8, 12) + "}", 16),
               "data_offsets");
  // Adjacent tensors and empty tensors anywhere are fine.
  mg::StHeader h =
      parse(st_bytes("{" + t("a", 0, 8) + "," + t("e", 4, 4) + "," + t("b", 8, 16) + "}", 16));
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.tensors[0].name, "a");
  EXPECT_EQ(h.tensors[h.index.at("b")].begin, 8u);
}

TEST(Safetensors, WriterRoundTrip) {
  const fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "safetensors_test";
  fs::create_directories(dir);
  const std::string path = (dir / "round_trip.safetensors").string();
  const std::vector<float> a = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  const std::vector<int64_t> b = {42, -7};
  const uint8_t c = 1;
  mg::write_safetensors(path,
                        {{"a", mg::StDtype::F32, {2, 3}, a.data(), a.size() * sizeof(float)},
                         {"b", mg::StDtype::I64, {2}, b.data(), b.size() * sizeof(int64_t)},
                         {"empty", mg::StDtype::F16, {0, 4}, nullptr, 0},
                         {"c", mg::StDtype::BOOL, {}, &c, 1}},
                        {{"format", "pt"}});
  mg::SafetensorsFile f(path);
  EXPECT_EQ(f.header().metadata.at("format"), "pt");
  EXPECT_EQ(f.header().data_offset % 8, 0u);
  ASSERT_EQ(f.header().tensors.size(), 4u);
  const mg::StTensor* ta = f.find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ta->dtype, mg::StDtype::F32);
  EXPECT_EQ(std::memcmp(f.bytes(*ta), a.data(), 24), 0);
  const mg::StTensor* tb = f.find("b");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(std::memcmp(f.bytes(*tb), b.data(), 16), 0);
  EXPECT_EQ(f.find("empty")->numel(), 0);
  EXPECT_EQ(f.find("c")->shape.size(), 0u);
  EXPECT_EQ(f.find("missing"), nullptr);
}

TEST(Safetensors, GoldenCheckpointParses) {
  mg::SafetensorsFile f(std::string(MGSWEEP_TEST_DATA) + "/golden/tiny/model.safetensors");
  EXPECT_GT(f.header().tensors.size(), 100u);
  EXPECT_NE(f.find("enc_to_dec_proj.weight"), nullptr);
}

TEST(Safetensors, FilesOnDisk) {
  const fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "safetensors_test";
  fs::create_directories(dir);
  auto expect_file_error = [](const std::string& path, const std::string& what) {
    try {
      mg::SafetensorsFile f(path);
      ADD_FAILURE() << path << " opened";
    } catch (const mg::InputError& e) {
      EXPECT_EQ(e.file(), path);
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_file_error((dir / "does_not_exist.safetensors").string(), "cannot open");
  const std::string empty = (dir / "empty.safetensors").string();
  std::ofstream(empty, std::ios::binary | std::ios::trunc).close();
  expect_file_error(empty, "shorter than 8 bytes");
  // The golden checkpoint cut off in the middle of its data section.
  const std::string cut = (dir / "truncated.safetensors").string();
  {
    std::ifstream in(std::string(MGSWEEP_TEST_DATA) + "/golden/tiny/model.safetensors",
                     std::ios::binary);
    std::vector<char> head(30000);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(cut, std::ios::binary | std::ios::trunc).write(head.data(), in.gcount());
  }
  expect_file_error(cut, "data_offsets");
  // ... and in the middle of its header.
  fs::resize_file(cut, 1000);
  expect_file_error(cut, "header length");
}

}  // namespace
