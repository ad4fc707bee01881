// Dtype round trips: checkpoints stored in fp16/bf16 load into any run dtype, and the
// decoder in fp16/bf16 stays close to the fp32 reference.
#include <gtest/gtest.h>

#include <filesystem>

#include "golden.h"
#include "musicgen/generation.h"
#include "musicgen/lm_decoder.h"
#include "musicgen/random_model.h"

namespace {

using namespace mgtest;
namespace fs = std::filesystem;

TEST(Dtype, HalfStoredCheckpointLoadsAsRoundedFloat) {
  const std::string dir32 = std::string(MGSWEEP_TEST_SCRATCH) + "/dtype_f32";
  const std::string dir16 = std::string(MGSWEEP_TEST_SCRATCH) + "/dtype_f16";
  const std::string dirbf = std::string(MGSWEEP_TEST_SCRATCH) + "/dtype_bf16";
  const auto cfg = mg::named_shape("tiny");
  mg::write_random_model(cfg, 9, dir32, at::kFloat);
  mg::write_random_model(cfg, 9, dir16, at::kHalf);
  mg::write_random_model(cfg, 9, dirbf, at::kBFloat16);
  const auto w32 = mg::Weights::open_folder(dir32);
  const auto w16 = mg::Weights::open_folder(dir16);
  const auto wbf = mg::Weights::open_folder(dirbf);
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  for (const auto& name : w32.names()) {
    at::Tensor ref = w32.get_unchecked(name, f32);
    EXPECT_TRUE(at::equal(w16.get_unchecked(name, f32), ref.to(at::kHalf).to(at::kFloat))) << name;
    EXPECT_TRUE(at::equal(wbf.get_unchecked(name, f32), ref.to(at::kBFloat16).to(at::kFloat)))
        << name;
  }
}

// Teacher-forced logits of the golden decoder in a low-precision run dtype, against
// the fp32 reference: within a few percent of the logits' range.
void check_low_precision(at::ScalarType dtype, double rel_tol) {
  const auto cfg = mg::MusicgenConfig::from_file(golden_dir() + "/config.json");
  const auto w = mg::Weights::open_folder(golden_dir());
  mg::LmDecoder dec(cfg.decoder, w, at::TensorOptions().dtype(dtype));
  at::Tensor tokens = expect_tensor("tf.input_ids");
  const int64_t S = tokens.size(2), L = cfg.decoder.num_hidden_layers;
  mg::DecoderState st = dec.start(expect_tensor("cond.hidden_states"), expect_tensor("cond.mask"),
                                  at::tensor({0, 1}, at::kLong), S, L);
  at::Tensor logits = dec.forward(st, tokens, L, nullptr);
  EXPECT_EQ(logits.scalar_type(), at::kFloat);
  at::Tensor ref = expect_tensor("tf.hf.logits");
  const double range = ref.abs().max().item<double>();
  EXPECT_LT(max_abs_diff(logits, ref), rel_tol * range) << at::toString(dtype);
  // A generation in this dtype runs and yields valid codes.
  mg::GenerationRequest req;
  req.frames = 8;
  req.sampling.greedy = true;
  auto res =
      mg::generate(dec, {expect_tensor("cond.hidden_states"), expect_tensor("cond.mask")}, req);
  EXPECT_GE(res.codes.min().item<int64_t>(), 0);
  EXPECT_LT(res.codes.max().item<int64_t>(), cfg.decoder.vocab_size);
}

TEST(Dtype, Float16DecoderIsCloseToFloat32) { check_low_precision(at::kHalf, 0.02); }
TEST(Dtype, BFloat16DecoderIsCloseToFloat32) { check_low_precision(at::kBFloat16, 0.05); }

}  // namespace
