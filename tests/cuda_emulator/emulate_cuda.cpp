// emulate_cuda.cpp: runs the CUDA kernel of forced_align_kernels.cuh on the CPU, for tests on
// machines without a GPU: test code (tests/test_extension.py builds it), not part of the op.
//
// Each CUDA thread of a block is a std::thread; __syncthreads is a block-wide std::barrier and
// __ballot_sync a warp-wide barrier over a shared vote word, so the kernel's indexing, band
// walk, ballot packing and device backtrack run exactly as written.  Blocks run one after the
// other.  Build (from the repository root):
// g++ -std=c++20 -O1 -pthread -I extensions tests/cuda_emulator/emulate_cuda.cpp
// Input on stdin (little-endian): int64 B, T, C, L, blank, star, is_double, threads (0: the
// kernel's own choice), shared (alpha rows in "shared memory"); log_probs (B*T*C float32 or float64); targets (B*L int64);
// input_lengths (B int64); target_lengths (B int64).  Output on stdout: paths (B*T int64),
// scores (B*T float32, or float64 when is_double), dead (B int32).
#include <atomic>
#include <barrier>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#define SUBALIGN_EMULATE_CUDA 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
thread_local Dim3 threadIdx;
thread_local Dim3 blockIdx;
Dim3 blockDim;

namespace emu {
std::barrier<>* block_barrier = nullptr;
struct Warp {
  std::unique_ptr<std::barrier<>> barrier;
  std::atomic<uint32_t> votes[3];
};
std::vector<std::unique_ptr<Warp>> warps;
thread_local uint64_t ballots = 0;  // this thread's ballot count: picks the vote word
}  // namespace emu

inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }

namespace emu {
std::vector<unsigned char> shared_memory;  // the block's dynamic shared memory
}
inline unsigned char* dynamic_shared() { return emu::shared_memory.data(); }

// Three rotating vote words.  In ballot n lane 0 clears word (n+2)%3: every lane read it in
// ballot n-1 (before this barrier), and none votes into it before ballot n+2, which no lane
// reaches before lane 0 has passed ballot n+1's barrier.
inline uint32_t __ballot_sync(uint32_t, bool pred) {
  emu::Warp& w = *emu::warps[threadIdx.x / 32];
  const uint64_t n = emu::ballots++;
  const unsigned lane = threadIdx.x % 32;
  if (pred) w.votes[n % 3].fetch_or(1u << lane);
  w.barrier->arrive_and_wait();
  const uint32_t result = w.votes[n % 3].load();
  if (lane == 0) w.votes[(n + 2) % 3].store(0);
  return result;
}

#include "forced_align_kernels.cuh"

namespace {

template <typename T>
std::vector<T> read(size_t n) {
  std::vector<T> v(n);
  if (n && std::fread(v.data(), sizeof(T), n, stdin) != n) {
    std::fprintf(stderr, "emulate_cuda: short input\n");
    std::exit(2);
  }
  return v;
}

template <typename T>
void write(const std::vector<T>& v) {
  if (!v.empty()) std::fwrite(v.data(), sizeof(T), v.size(), stdout);
}

template <typename acc_t>
int run(int64_t B, int64_t T, int64_t C, int64_t L, int64_t blank, int64_t star,
        int64_t threads, bool shared) {
  using namespace subalign;
  const auto lp = read<acc_t>(static_cast<size_t>(B * T * C));
  const auto targets = read<int64_t>(static_cast<size_t>(B * L));
  const auto in_len = read<int64_t>(static_cast<size_t>(B));
  const auto tg_len = read<int64_t>(static_cast<size_t>(B));

  // Host side, as in forced_align_cuda.cu: exact band-sized back-pointer storage.
  std::vector<int64_t> bits_offset(B);
  int64_t words = 0;
  for (int64_t b = 0; b < B; ++b) {
    bits_offset[b] = words;
    const int64_t n = tg_len[b], frames = in_len[b];
    if (n == 0 || frames <= 1) continue;
    std::vector<int64_t> fb(n + 1), lt(n);
    fill_band(targets.data() + b * L, n, frames, fb.data(), lt.data());
    BandCursor band;
    band.start(fb.data(), lt.data(), n);
    for (int64_t t = 1; t < frames; ++t) {
      band.next();
      words += 3 * band.words(32);
    }
  }
  const int64_t stride = gpu::kFront + L + 1 + gpu::kBack;
  std::vector<uint32_t> bits(std::max<int64_t>(words, 1), 0xA5A5A5A5u);  // poison
  std::vector<acc_t> alpha(B * 4 * stride, acc_t(12345));
  std::vector<int64_t> band(B * (2 * L + 1), -7), info(B * T * gpu::kInfo, -7);
  std::vector<int64_t> paths(B * T, -99);
  std::vector<acc_t> scores(B * T, acc_t(-99));
  std::vector<int32_t> dead(B, -1);

  gpu::Params<acc_t, acc_t> p{};
  p.log_probs = lp.data();
  p.targets = targets.data();
  p.input_lengths = in_len.data();
  p.target_lengths = tg_len.data();
  p.bits_offset = bits_offset.data();
  p.bits = bits.data();
  p.alpha = alpha.data();
  p.band = band.data();
  p.frame_info = info.data();
  p.paths = paths.data();
  p.scores = scores.data();
  p.dead = dead.data();
  p.T = T;
  p.C = C;
  p.L = L;
  p.blank = blank;
  p.star = star;
  p.stride = stride;
  p.shared_alpha = shared;

  const int n_threads = threads > 0 ? static_cast<int>(threads) : gpu::threads_for(L);
  blockDim.x = static_cast<unsigned>(n_threads);
  for (int64_t b = 0; b < B; ++b) {
    emu::shared_memory.assign(static_cast<size_t>(gpu::alpha_bytes<acc_t>(stride)), 0x7f);
    std::barrier<> block(n_threads);
    emu::block_barrier = &block;
    emu::warps.clear();
    for (int w = 0; w < (n_threads + 31) / 32; ++w) {
      auto warp = std::make_unique<emu::Warp>();
      warp->barrier = std::make_unique<std::barrier<>>(std::min(32, n_threads - 32 * w));
      for (auto& v : warp->votes) v.store(0);
      emu::warps.push_back(std::move(warp));
    }
    std::vector<std::thread> pool;
    for (int i = 0; i < n_threads; ++i) {
      pool.emplace_back([&, i] {
        threadIdx.x = static_cast<unsigned>(i);
        blockIdx.x = static_cast<unsigned>(b);
        emu::ballots = 0;
        gpu::forced_align_kernel<acc_t, acc_t>(p);
      });
    }
    for (auto& th : pool) th.join();
  }
  write(paths);
  write(scores);
  write(dead);
  return 0;
}

}  // namespace

int main() {
  const auto head = read<int64_t>(9);
  const int64_t B = head[0], T = head[1], C = head[2], L = head[3];
  if (head[6]) return run<double>(B, T, C, L, head[4], head[5], head[7], head[8] != 0);
  return run<float>(B, T, C, L, head[4], head[5], head[7], head[8] != 0);
}
