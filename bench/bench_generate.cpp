// Generation speed: frames per second of a random MusicGen with real shapes, at
// batch 1 and 16, printed beside what the machine can do: the compute peak (the larger of
// cores x clock x FLOPs per cycle of the vector ISA and the best of 5 rounds of a 2048^3 ATen
// GEMM), the read bandwidth (best of 5 passes), and for each batch size the roofline of a
// decoding step, max(FLOPs / peak, bytes read / bandwidth), next to the measured step time;
// and the peak resident memory.
//
//   bench_generate [--shape small] [--seconds 4] [--batches 1,16] [--model DIR]
//                  [--device cpu|cuda] [--dtype float32|float16|bfloat16 (or fp32|fp16|bf16)]
//                  [--gemm all|packed|aten]   (CPU float32: which decoder GEMMs to time)
//                  [--cuda-probes 1|0]        (CUDA: what CUDA graphs and a fused attention
//                                              would save per step; on by default)
//
// On CUDA the yardsticks are an 8192^3 GEMM in the run's dtype (best of 5 timed batches of
// calls, each ended by a synchronize) and a device-to-device copy; bench/gpu_check.sh runs
// this on a GPU machine beside transformers.
//
// Without --model it writes a random checkpoint of --shape to a temp folder.
// bench/run_generate_bench.sh runs this and transformers' generate() on the same
// checkpoint in one go.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "musicgen/musicgen.h"
#include "musicgen/random_model.h"
#include "yardsticks.h"

// bench/CMakeLists.txt defines MGSWEEP_BENCH_CUDA where the LibTorch found has CUDA.
#if defined(MGSWEEP_BENCH_CUDA)
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void sync(const at::Device& d) {
  if (d.is_cuda()) at::empty({1}, at::TensorOptions().device(d)).cpu();
}

// Best of 5 rounds of 0.3 s: how many times per second `call` runs. On CUDA, where a call
// only queues work, each round is a batch of calls sized from one timed call and ended by a
// synchronize (a loop on the host clock alone would queue far more than 0.3 s of work).
template <typename F>
double best_calls_per_second(const at::Device& d, F&& call) {
  double best = 0;
  if (d.is_cuda()) {
    call();
    sync(d);
    double t0 = now_s();
    call();
    sync(d);
    const int64_t n = std::max<int64_t>(
        1, std::min<int64_t>(10000, static_cast<int64_t>(0.1 / std::max(now_s() - t0, 1e-7))));
    for (int rep = 0; rep < 5; ++rep) {
      t0 = now_s();
      for (int64_t i = 0; i < n; ++i) call();
      sync(d);
      best = std::max(best, n / (now_s() - t0));
    }
    return best;
  }
  for (int rep = 0; rep < 5; ++rep) {
    sync(d);
    const double t0 = now_s();
    int iters = 0;
    while (now_s() - t0 < 0.3) {
      call();
      ++iters;
    }
    sync(d);
    best = std::max(best, iters / (now_s() - t0));
  }
  return best;
}

// FLOP/s of an ATen GEMM (called with 2048^3: the machine's matmul peak as ATen/MKL
// reach it).
double gemm_flops(int64_t m, int64_t k, int64_t n, const at::TensorOptions& o) {
  at::Tensor a = at::randn({m, k}, o), b = at::randn({k, n}, o);
  return 2.0 * m * k * n * best_calls_per_second(o.device(), [&] { at::mm(a, b); });
}

// FLOP/s of the packed kernel on a decoder-shaped projection whose weight stays in
// cache: the FMA throughput it can reach on this machine (a second yardstick beside
// ATen's 2048^3 matmul, which on this AMD CPU stays below the FMA limit).
double packed_flops(int64_t m, int64_t k, int64_t n) {
  mg::Linear lin(at::randn({n, k}), mg::CpuGemm::Packed);
  at::Tensor x = at::randn({m, k});
  return 2.0 * m * k * n * best_calls_per_second(at::kCPU, [&] { lin(x); });
}

double copy_bandwidth(const at::TensorOptions& o) {
  at::Tensor a = at::randn({64 << 20}, o), b = at::empty_like(a);  // 256 MB (fp32)
  if (o.device().is_cuda())  // one copy takes ~0.1 ms there: time batches of them
    return 2.0 * a.nbytes() * best_calls_per_second(o.device(), [&] { b.copy_(a); });
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    sync(o.device());
    const double t0 = now_s();
    b.copy_(a);
    sync(o.device());
    best = std::max(best, 2.0 * a.nbytes() / (now_s() - t0));
  }
  return best;
}

// Bytes per second of reading memory once, all threads summing their share of
// 512 MB: the bound for batch 1, which must read every weight once per step.
double read_bandwidth(const at::TensorOptions& o) {
  if (!o.device().is_cpu()) return 0.5 * copy_bandwidth(o);  // a copy reads and writes
  std::vector<float> a(size_t{128} << 20, 1.0f);
  const int64_t n = static_cast<int64_t>(a.size());
  double best = 0, total = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = now_s();
    float sum = 0;
#pragma omp parallel reduction(+ : sum) num_threads(at::get_num_threads())
    {
      // 16 independent partial sums: the compiler vectorizes them without reassociating.
      const int64_t chunk = n / 16 / omp_get_num_threads() * 16;
      const int64_t begin = chunk * omp_get_thread_num();
      float acc[16] = {};
      for (int64_t i = begin; i < begin + chunk; i += 16)
        for (int j = 0; j < 16; ++j) acc[j] += a[static_cast<size_t>(i + j)];
      for (float x : acc) sum += x;
    }
    best = std::max(best, n * 4.0 / (now_s() - t0));
    total += sum;  // keeps the loop
  }
  return total > 0 ? best : 0;
}

#if defined(MGSWEEP_BENCH_CUDA)
// Seconds per call of `call` on CUDA (best of 5 batches, see best_calls_per_second).
template <typename F>
double cuda_seconds(const at::Device& d, F&& call) {
  return 1.0 / best_calls_per_second(d, call);
}

// What the decoder would gain on this GPU from what it does not do there yet, on
// this batch's shapes; the decoder itself is unchanged, and the figures are projections for
// decoder.forward alone (sampling and the grid updates of generate() come on top):
//  - CUDA graphs: one decoding step (decoder.forward at the middle position) run eagerly,
//    against the same step captured once in a CUDA graph and replayed (no launch overhead).
//  - fused attention: a step's self-attention over the KV cache as the decoder computes it
//    for one new position on non-CPU paths (matmul, softmax, matmul over the cache views),
//    against at::scaled_dot_product_attention on the same views, times the layers.
//  - the projections as linear.cpp computes them off the packed CPU path, against at::linear.
void cuda_probes(const mg::LmDecoder& dec, const mg::Conditioning& cond, int64_t batch,
                 int64_t steps, const at::TensorOptions& opt) {
  const auto& dc = dec.config();
  const at::Device dev = opt.device();
  const int64_t U = cond.hidden.size(0), L = cond.hidden.size(1), layers = dc.num_hidden_layers;
  std::vector<int64_t> source;
  for (int64_t b = 0; b < batch; ++b) source.push_back(b % U);
  for (int64_t b = 0; b < batch; ++b) source.push_back(U);
  const at::Tensor hidden =
      at::cat({cond.hidden.to(opt), at::zeros({1, L, dc.hidden_size}, opt)}, 0);
  const at::Tensor mask =
      at::cat({cond.mask.to(dev, at::kLong), at::zeros({1, L}, opt.dtype(at::kLong))}, 0);
  mg::DecoderState st = dec.start(hidden, mask, at::tensor(source, at::kLong), steps, layers);
  const int64_t p = steps / 2, rows = st.rows;
  const at::Tensor tokens = at::full({rows, dc.num_codebooks, 1}, dc.pad_token_id,
                                     at::TensorOptions().dtype(at::kLong).device(dev));
  auto step = [&] {
    st.pos = p;
    return dec.forward(st, tokens, layers, nullptr);
  };
  const double eager = cuda_seconds(dev, step);
  std::printf("      cuda probes, batch %lld (%lld rows), position %lld of %lld:\n",
              static_cast<long long>(batch), static_cast<long long>(rows),
              static_cast<long long>(p), static_cast<long long>(steps));
  std::printf("        decoder.forward, eager:                %8.3f ms per step\n", 1e3 * eager);
  try {
    at::cuda::CUDAGraph graph;
    const c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
    {
      const c10::cuda::CUDAStreamGuard guard(side);
      for (int i = 0; i < 3; ++i) step();  // warm the side stream (cuBLAS handle, workspace)
      side.synchronize();
      st.pos = p;
      graph.capture_begin();
      at::Tensor out = dec.forward(st, tokens, layers, nullptr);
      graph.capture_end();
    }
    sync(dev);
    const double replay = cuda_seconds(dev, [&] { graph.replay(); });
    std::printf(
        "        decoder.forward, CUDA graph replay:    %8.3f ms per step: %.2fx faster; "
        "%.2f s less per %lld-step generation\n",
        1e3 * replay, eager / replay, (eager - replay) * steps, static_cast<long long>(steps));
  } catch (const std::exception& e) {
    std::printf("        decoder.forward, CUDA graph: capture failed: %s\n", e.what());
    return;  // a failed capture can leave the stream unusable: skip the rest
  }
  // The projections as Linear computes them off the packed CPU path, (W x^T)^T and a copy
  // (what makes MKL pack the small operand on CPUs), against x W^T (at::linear), which
  // cuBLAS runs without the copy; summed over a step's projections (linear.cpp).
  {
    const int64_t H = dc.hidden_size, F = dc.ffn_dim;
    const std::vector<std::pair<int64_t, int64_t>> shapes = {
        {3 * H, H}, {H, H}, {H, H}, {H, H}, {F, H}, {H, F}};  // per layer: [out, in]
    double now = 0, linear = 0;
    auto add = [&](int64_t n, int64_t k, int64_t times) {
      const at::Tensor w = at::randn({n, k}, opt), x = at::randn({rows, 1, k}, opt);
      now += times * cuda_seconds(dev, [&] {
               return at::mm(w, x.reshape({-1, k}).t()).t().contiguous().view({rows, 1, n});
             });
      linear += times * cuda_seconds(dev, [&] { return at::linear(x, w); });
    };
    for (const auto& [n, k] : shapes) add(n, k, layers);
    add(dc.num_codebooks * dc.vocab_size, H, 1);  // the K heads
    std::printf(
        "        projections of a step: (W x^T)^T + copy %7.3f ms, x W^T (at::linear) %7.3f ms: "
        "%+.3f ms per step\n",
        1e3 * now, 1e3 * linear, 1e3 * (linear - now));
  }
  const int64_t nh = dc.num_attention_heads, hd = dc.head_dim();
  const at::Tensor cache_k = at::randn({rows, nh, steps, hd}, opt);
  const at::Tensor cache_v = at::randn({rows, nh, steps, hd}, opt);
  const at::Tensor q = at::randn({rows, nh, 1, hd}, opt);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  for (const int64_t t : {p + 1, steps}) {
    const at::Tensor keys = cache_k.narrow(2, 0, t), vals = cache_v.narrow(2, 0, t);
    auto unfused = [&] {
      return at::matmul(at::softmax(at::matmul(q * scale, keys.transpose(-1, -2)), -1), vals);
    };
    auto fused = [&] { return at::scaled_dot_product_attention(q, keys, vals); };
    const double diff =
        (unfused().to(at::kFloat) - fused().to(at::kFloat)).abs().max().item<double>();
    const double a = cuda_seconds(dev, unfused), b = cuda_seconds(dev, fused);
    std::printf(
        "        self-attention over %4lld keys: matmul/softmax/matmul %7.1f us, "
        "scaled_dot_product_attention %7.1f us per layer (max |diff| %.1e): %+.3f ms per "
        "step over %lld layers\n",
        static_cast<long long>(t), 1e6 * a, 1e6 * b, diff, 1e3 * (b - a) * layers,
        static_cast<long long>(layers));
  }
}
#endif

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::stoll(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string shape = "small", model, device = "cpu", dtype = "float32", batches = "1,16";
  std::string gemm = "all";
  double seconds = 4;
  bool cuda_probes_on = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--shape")
      shape = v;
    else if (k == "--model")
      model = v;
    else if (k == "--device")
      device = v;
    else if (k == "--dtype")
      dtype = v;
    else if (k == "--batches")
      batches = v;
    else if (k == "--gemm")
      gemm = v;
    else if (k == "--seconds")
      seconds = std::stod(v);
    else if (k == "--cuda-probes")
      cuda_probes_on = v != "0";
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (device.rfind("cuda", 0) == 0 && !at::hasCUDA()) {
    std::fprintf(stderr, "bench_generate: --device %s, but this LibTorch finds no CUDA device\n",
                 device.c_str());
    return 2;
  }
  if (model.empty()) {
    model = (std::filesystem::temp_directory_path() / ("mgsweep_bench_" + shape)).string();
    if (!std::filesystem::exists(model + "/model.safetensors")) {
      std::printf("writing a random '%s' checkpoint to %s\n", shape.c_str(), model.c_str());
      mg::write_random_model(mg::named_shape(shape), 1, model);
    }
  }
  if (dtype == "fp32") dtype = "float32";
  if (dtype == "fp16" || dtype == "half") dtype = "float16";
  if (dtype == "bf16") dtype = "bfloat16";
  const at::Device dev = mg::parse_device(device);
  const at::ScalarType dt_run = mg::parse_dtype(dtype);
  const auto opt = at::TensorOptions().dtype(dt_run).device(dev);
  // The CPU float32 GEMMs to compare in this run: our packed kernel and ATen's (MKL).
  std::vector<std::pair<std::string, mg::CpuGemm>> variants;
  if (mg::uses_packed_gemm(mg::CpuGemm::Auto, opt) && (gemm == "all" || gemm == "packed"))
    variants.push_back({"packed", mg::CpuGemm::Packed});
  if (gemm == "all" || gemm == "aten" || variants.empty())
    variants.push_back({"aten", mg::CpuGemm::Aten});

  // 2048^3 on the CPU; on a GPU that is too small to reach the peak.
  const int64_t gemm_n = dev.is_cuda() ? 8192 : 2048;
  const double gemm_peak = gemm_flops(gemm_n, gemm_n, gemm_n, opt);
  const double bandwidth = read_bandwidth(opt);
  double peak = gemm_peak;
  std::printf(
      "machine: %s, %d threads, %s; ATen matmul (%lld^3, best of 5) %.1f GFLOP/s, read "
      "bandwidth (best of 5) %.1f GB/s (copy %.1f GB/s)\n",
      device.c_str(), at::get_num_threads(), dtype.c_str(), static_cast<long long>(gemm_n),
      gemm_peak / 1e9, bandwidth / 1e9, copy_bandwidth(opt) / 1e9);
  if (dev.is_cpu()) {
    const bool packed = variants.front().second == mg::CpuGemm::Packed;
    const std::string isa = mg::kernels::isa_name(mg::kernels::kernel_isa());
    const bench::CpuPeak th = bench::theoretical_cpu_peak(at::get_num_threads(), packed ? isa : "");
    std::printf(
        "theoretical float32 peak: %d cores x %.2f GHz x %d FLOP/cycle (%s, 2 FMA units) = "
        "%.1f GFLOP/s\n",
        th.cores, th.ghz, th.flops_per_cycle, th.isa.c_str(), th.flops / 1e9);
    peak = std::max(peak, th.flops);
  }
  std::printf("compute peak used below: %.1f GFLOP/s\n", peak / 1e9);
  if (variants.front().second == mg::CpuGemm::Packed)
    std::printf(
        "packed kernel (%s tiles; MGSWEEP_CPU_ISA chooses), 32x1024 x 1024x1024 in cache: "
        "%.1f GFLOP/s\n",
        mg::kernels::isa_name(mg::kernels::kernel_isa()), packed_flops(32, 1024, 1024) / 1e9);
  for (const auto& [name, which] : variants) {
    mg::RunOptions ro{dev, dt_run, which};
    mg::MusicGen mgen(model, ro);
    const auto& dc = mgen.config().decoder;
    const int64_t H = dc.hidden_size, L = dc.num_hidden_layers, F = dc.ffn_dim;
    // Weights read per step: self-attn 4H^2, cross q/out 2H^2, MLP 2HF, heads K*V*H.
    const double params_per_step =
        L * (6.0 * H * H + 2.0 * H * F) + dc.num_codebooks * dc.vocab_size * H;
    const double bytes_per_step = params_per_step * at::elementSize(dt_run);
    std::printf("model: %s (L=%lld H=%lld K=%lld), %.0f M decoder params read per step; GEMM: %s\n",
                model.c_str(), static_cast<long long>(L), static_cast<long long>(H),
                static_cast<long long>(dc.num_codebooks), params_per_step / 1e6, name.c_str());

    const int64_t frames = static_cast<int64_t>(seconds * mgen.config().frame_rate());
    for (int64_t batch : parse_list(batches)) {
      std::vector<std::string> prompts;
      for (int64_t b = 0; b < batch; ++b)
        prompts.push_back("Compose a happy rock piece, with a guitar melody. Use a fast tempo. " +
                          std::to_string(b));
      mg::GenerationRequest req;
      req.frames = frames;
      req.sampling = {false, 250, 1.0, 3.0, 1};
      for (const auto& p : prompts) req.row_keys.push_back(mg::row_key_of(p));
      const mg::Conditioning cond = mgen.encode(prompts);
      // A warm-up generation of the same length, then the timed one: the steady state
      // of a sweep, which generates the same shapes over and over (allocations,
      // KV cache arena and kernels warm).
      mgen.generate(cond, req);
      sync(dev);
      const double rss_warm = bench::rss_mib();
      const double t0 = now_s();
      auto res = mgen.generate(cond, req);
      sync(dev);
      const double dt = now_s() - t0;
      const int64_t steps = frames + dc.max_delay();
      const double rows = 2.0 * batch;  // CFG: a conditional and an unconditional row each
      const double flops = 2.0 * params_per_step * rows * steps;
      // A step's roofline, averaged over the steps: the projections (weights read once for
      // all rows), plus attention over the KV cache (self: t/2 keys on average; cross: the
      // text states), whose reads grow with the batch.
      const double elem = at::elementSize(dt_run), text_len = cond.hidden.size(1);
      const double kv_avg = 0.5 * steps;
      const double attn_bytes = 2.0 * L * H * rows * (kv_avg + text_len) * elem;
      const double attn_flops = 4.0 * L * H * rows * (kv_avg + text_len);
      const double step_s = dt / steps;
      const double roof_s =
          std::max((flops / steps + attn_flops) / peak, (bytes_per_step + attn_bytes) / bandwidth);
      std::printf(
          "  %-6s batch %3lld: %6.1f frames/s (%.2f s for %lld frames) | %6.1f GFLOP/s = %5.1f%% "
          "of the compute peak | weights streamed at %5.1f%% of read bandwidth\n"
          "               step %.2f ms, roofline %.2f ms (%s-bound): %.2fx the roofline | RSS "
          "%.0f MiB (+%.0f in the timed run), peak %.0f MiB\n",
          name.c_str(), static_cast<long long>(batch), frames / dt, dt,
          static_cast<long long>(frames), flops / dt / 1e9, 100.0 * flops / dt / peak,
          100.0 * bytes_per_step * steps / dt / bandwidth, 1e3 * step_s, 1e3 * roof_s,
          (flops / steps + attn_flops) / peak > (bytes_per_step + attn_bytes) / bandwidth
              ? "compute"
              : "bandwidth",
          step_s / roof_s, bench::rss_mib(), bench::rss_mib() - rss_warm, bench::peak_rss_mib());
      (void)res;
#if defined(MGSWEEP_BENCH_CUDA)
      if (dev.is_cuda() && cuda_probes_on) cuda_probes(mgen.decoder(), cond, batch, steps, opt);
#else
      if (dev.is_cuda() && cuda_probes_on)
        std::printf("      cuda probes: not built (this LibTorch has no CUDA headers)\n");
#endif
    }
  }
  return 0;
}
