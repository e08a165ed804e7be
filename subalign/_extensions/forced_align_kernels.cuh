// forced_align_kernels.cuh: the CUDA kernel of subalign::forced_align, free of ATen so that it
// compiles with nvcc alone (the compile check in tests/test_extension.py builds it that way).
//
// One launch for the whole batch: one thread block per item loops over that item's frames.
// Per frame, the block's threads cover the band's pairs (blank k, token k) in warp-aligned
// strides; each warp turns its decisions into three 32-bit back-pointer words with ballots
// (one bit plane per decision, stored only over the band's words, layout as in trellis.h).
// The alpha rows are double-buffered, in shared memory when they fit (L up to ~14 000 in
// float32 on sm_90) and in global memory otherwise, with one __syncthreads per frame.  After the last frame, thread 0 picks the end state and
// backtracks on the device; nothing comes back to the host until the caller reads the result.
#pragma once

// SUBALIGN_EMULATE_CUDA: compiled as plain C++ by tests/cuda_emulator/emulate_cuda.cpp (a test
// harness that runs the kernel on CPU threads); the CUDA headers, half types and the launch are left out.
#if !defined(SUBALIGN_EMULATE_CUDA)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#endif

#include <cmath>
#include <cstdint>

#include "trellis.h"

namespace subalign {
namespace gpu {

constexpr int64_t kFront = 32;  // alpha slots before pair 0; slot -1 stays -inf
constexpr int64_t kBack = 32;   // alpha slots after pair L
constexpr int kInfo = 3;        // per frame: band low, first word, words per plane

__device__ __forceinline__ float widen(float x) { return x; }
__device__ __forceinline__ double widen(double x) { return x; }
#if !defined(SUBALIGN_EMULATE_CUDA)
__device__ __forceinline__ float widen(__half x) { return __half2float(x); }
__device__ __forceinline__ float widen(__nv_bfloat16 x) { return __bfloat162float(x); }
#endif

// Arguments of one launch; all pointers are device memory, all sizes int64_t.
template <typename scalar_t, typename acc_t>
struct Params {
  const scalar_t* log_probs;      // (B, T, C), contiguous
  const int64_t* targets;         // (B, L)
  const int64_t* input_lengths;   // (B,)
  const int64_t* target_lengths;  // (B,)
  const int64_t* bits_offset;     // (B,) first back-pointer word of each item
  uint32_t* bits;                 // all items' back-pointer words
  acc_t* alpha;                   // (B, 4, stride) scratch
  int64_t* band;                  // (B, 2L + 1) scratch: first_blank then last_tok
  int64_t* frame_info;            // (B, T, kInfo) scratch
  int64_t* paths;                 // (B, T) out
  acc_t* scores;                  // (B, T) out, in the accumulation type
  int32_t* dead;                  // (B,) out: 1 when no alignment has a finite score
  int64_t T, C, L, blank, star, stride;
  bool shared_alpha;              // alpha rows in dynamic shared memory instead of `alpha`
};

#if !defined(SUBALIGN_EMULATE_CUDA)
__device__ __forceinline__ unsigned char* dynamic_shared() {
  extern __shared__ __align__(16) unsigned char shared_bytes[];
  return shared_bytes;
}
#endif

// Bytes of the four alpha rows (two frames of blank and token scores) of one item.
template <typename acc_t>
inline int64_t alpha_bytes(int64_t stride) {
  return 4 * stride * static_cast<int64_t>(sizeof(acc_t));
}

template <typename acc_t>
__device__ __forceinline__ acc_t negative_infinity() {
  return -static_cast<acc_t>(INFINITY);
}

template <typename scalar_t, typename acc_t>
__device__ __forceinline__ acc_t emission(const Params<scalar_t, acc_t>& p, const scalar_t* row,
                                          int64_t label) {
  return (p.star >= 0 && label == p.star) ? acc_t(0) : static_cast<acc_t>(widen(row[label]));
}

template <typename scalar_t, typename acc_t>
__device__ __forceinline__ void emit(const Params<scalar_t, acc_t>& p, const scalar_t* lp,
                                     const int64_t* y, int64_t t, int64_t k, bool tok,
                                     int64_t* path, acc_t* score) {
  const int64_t label = tok ? y[k] : p.blank;
  path[t] = label;
  score[t] = (tok && p.star >= 0 && label == p.star) ? acc_t(0)
                                                     : static_cast<acc_t>(widen(lp[t * p.C + label]));
}

template <typename scalar_t, typename acc_t>
__global__ void forced_align_kernel(Params<scalar_t, acc_t> p) {
  const int64_t b = blockIdx.x;
  const int tid = threadIdx.x, nthreads = blockDim.x, lane = tid & 31, warp = tid >> 5;
  const int64_t T = p.input_lengths[b], L = p.target_lengths[b];
  const scalar_t* lp = p.log_probs + b * p.T * p.C;
  const int64_t* y = p.targets + b * p.L;
  int64_t* path = p.paths + b * p.T;
  acc_t* score = p.scores + b * p.T;
  const acc_t neg = negative_infinity<acc_t>();

  for (int64_t t = T + tid; t < p.T; t += nthreads) {
    path[t] = p.blank;
    score[t] = acc_t(0);
  }
  if (tid == 0) p.dead[b] = 0;
  if (T == 0) return;
  if (L == 0) {  // the only path is all blank
    for (int64_t t = tid; t < T; t += nthreads) emit(p, lp, y, t, 0, false, path, score);
    if (tid == 0) {
      acc_t sum = 0;
      for (int64_t t = 0; t < T; ++t) sum += static_cast<acc_t>(widen(lp[t * p.C + p.blank]));
      p.dead[b] = !(sum > neg);
    }
    return;
  }

  int64_t* first_blank = p.band + b * (2 * p.L + 1);
  int64_t* last_tok = first_blank + L + 1;
  acc_t* rows = p.shared_alpha ? reinterpret_cast<acc_t*>(dynamic_shared())
                               : p.alpha + b * 4 * p.stride;
  acc_t* blank_row[2] = {rows + kFront, rows + p.stride + kFront};
  acc_t* tok_row[2] = {rows + 2 * p.stride + kFront, rows + 3 * p.stride + kFront};
  int64_t* info = p.frame_info + b * p.T * kInfo;
  uint32_t* bits = p.bits + p.bits_offset[b];

  if (tid == 0) fill_band(y, L, T, first_blank, last_tok);
  for (int64_t i = tid; i < 4 * p.stride; i += nthreads) rows[i] = neg;
  __syncthreads();
  if (tid == 0) {  // frame 0: the virtual frame -1 sits in blank 0 with score 0
    blank_row[0][0] = static_cast<acc_t>(widen(lp[p.blank]));
    tok_row[0][0] = emission(p, lp, y[0]);
  }
  __syncthreads();

  // Every thread walks the band itself (same reads, no shared state to race on).
  BandCursor band;
  band.start(first_blank, last_tok, L);
  int64_t off = 0;
  int cur = 0;
  for (int64_t t = 1; t < T; ++t) {
    band.next();
    const int64_t lo = band.low(), hi = band.hi, nw = band.words(32);
    const int prev = cur;
    cur ^= 1;
    const acc_t* pb = blank_row[prev];
    const acc_t* pt = tok_row[prev];
    acc_t* nb = blank_row[cur];
    acc_t* nt = tok_row[cur];
    const scalar_t* row = lp + t * p.C;
    const acc_t eb = static_cast<acc_t>(widen(row[p.blank]));
    uint32_t* words = bits + off;
    for (int64_t base = lo & ~int64_t(31); base <= hi; base += nthreads) {
      const int64_t k = base + tid;
      bool badv = false, tadv = false, tskip = false;
      if (k >= lo && k <= hi) {
        const acc_t bk = pb[k], tk = pt[k], tprev = pt[k - 1];
        badv = tprev > bk;  // stay wins ties
        nb[k] = (badv ? tprev : bk) + eb;
        if (k < L) {
          tadv = bk > tk;
          const acc_t m1 = tadv ? bk : tk;
          const acc_t skip = (k > 0 && y[k] != y[k - 1]) ? tprev : neg;
          tskip = skip > m1;  // skip only when strictly better than stay and advance
          nt[k] = (tskip ? skip : m1) + emission(p, row, y[k]);
        }
      }
      const uint32_t wb = __ballot_sync(0xffffffffu, badv);
      const uint32_t wa = __ballot_sync(0xffffffffu, tadv);
      const uint32_t ws = __ballot_sync(0xffffffffu, tskip);
      const int64_t k0 = base + (static_cast<int64_t>(warp) << 5);
      if (lane == 0 && k0 <= hi) {
        const int64_t w = (k0 >> 5) - (lo >> 5);
        words[w] = wb;
        words[nw + w] = wa;
        words[2 * nw + w] = ws;
      }
    }
    if (tid == 0) {
      if (lo >= 1) nb[lo - 1] = nt[lo - 1] = neg;
      nb[hi + 1] = nt[hi + 1] = neg;
      info[kInfo * t] = lo;
      info[kInfo * t + 1] = off;
      info[kInfo * t + 2] = nw;
    }
    off += 3 * nw;
    __syncthreads();
  }

  if (tid != 0) return;
  // End on the last token or the final blank (the token wins a tie), then backtrack.
  const acc_t end_tok = tok_row[cur][L - 1], end_blank = blank_row[cur][L];
  bool tok = end_tok >= end_blank;
  if (!((tok ? end_tok : end_blank) > neg)) {
    p.dead[b] = 1;
    return;
  }
  int64_t k = tok ? L - 1 : L;
  for (int64_t t = T - 1; t > 0; --t) {
    emit(p, lp, y, t, k, tok, path, score);
    const int64_t lo = info[kInfo * t], nw = info[kInfo * t + 2];
    const uint32_t* words = bits + info[kInfo * t + 1];
    const int64_t w = (k >> 5) - (lo >> 5);
    if (w < 0 || w >= nw) continue;  // unreachable on a finite path
    const uint32_t bit = 1u << (k & 31);
    if (!tok) {
      if (words[w] & bit) {
        k -= 1;
        tok = true;
      }
    } else if (words[2 * nw + w] & bit) {
      k -= 1;
    } else if (words[nw + w] & bit) {
      tok = false;
    }
  }
  emit(p, lp, y, 0, k, tok, path, score);
}

// Threads per block: enough warps to cover the widest item's pairs, at most 1024.
inline int threads_for(int64_t max_tokens) {
  int64_t warps = (max_tokens + 1 + 31) / 32;
  if (warps < 1) warps = 1;
  if (warps > 32) warps = 32;
  return static_cast<int>(warps * 32);
}

#if !defined(SUBALIGN_EMULATE_CUDA)
// Whether one item's alpha rows fit the device's opt-in shared memory per block.
template <typename acc_t>
inline bool alpha_fits_shared(int64_t stride, int device) {
  int limit = 0;
  if (cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
      cudaSuccess) {
    return false;
  }
  return alpha_bytes<acc_t>(stride) <= limit;
}

// Enqueues the whole batch as one kernel on `stream` (no host synchronisation); returns the
// launch status.  With p.shared_alpha, the rows take dynamic shared memory.
template <typename scalar_t, typename acc_t>
cudaError_t launch_forced_align(const Params<scalar_t, acc_t>& p, int64_t batch,
                                cudaStream_t stream) {
  if (batch == 0) return cudaSuccess;
  const int64_t shared = p.shared_alpha ? alpha_bytes<acc_t>(p.stride) : 0;
  if (shared > 48 * 1024) {
    const cudaError_t status = cudaFuncSetAttribute(
        forced_align_kernel<scalar_t, acc_t>, cudaFuncAttributeMaxDynamicSharedMemorySize,
        static_cast<int>(shared));
    if (status != cudaSuccess) return status;
  }
  forced_align_kernel<scalar_t, acc_t><<<static_cast<unsigned>(batch), threads_for(p.L),
                                         static_cast<size_t>(shared), stream>>>(p);
  return cudaGetLastError();
}
#endif

}  // namespace gpu
}  // namespace subalign
