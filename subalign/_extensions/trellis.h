// trellis.h: the CTC trellis geometry shared by the CPU and CUDA kernels (no ATen, no CUDA API).
//
// States of an item with L tokens y[0..L-1]: blank 0, token 0, blank 1, ..., token L-1, blank L.
// The kernels keep them as L+1 "pairs": pair k = (blank k, token k); pair L has only a blank.
// A pair is computed at frame t only inside the band [lo(t), hi(t)]: hi(t) is the last pair
// whose blank is reachable from the start by frame t, lo(t) the first pair whose token can
// still reach the end by the last frame.  Cells outside the band can never lie on a complete
// path, so the band changes no result; it bounds both the work and the back-pointer memory.
//
// Back-pointers (frames 1..T-1 only) are three bit planes per frame over the band's words:
//   plane 0: blank k came from token k-1 ("advance"), else it stayed;
//   plane 1: token k came from blank k ("advance");
//   plane 2: token k came from token k-1 ("skip"), which wins over plane 1 when both are set.
// That is 3 bits per pair, 1.5 bits per trellis state, stored only for the band's words.
// All sizes and offsets are int64_t.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define SUBALIGN_HD __host__ __device__ __forceinline__
#else
#define SUBALIGN_HD inline
#endif

namespace subalign {

// The bounds of the band for one item: first_blank[k] (k = 0..L) is the first frame at which
// blank k is reachable; last_tok[k] (k = 0..L-1) the last frame at which token k can still
// finish all remaining tokens.  `fill_band` writes both arrays; R is the item's repeat count.
template <typename Index>
SUBALIGN_HD void fill_band(const Index* y, int64_t L, int64_t T, int64_t* first_blank,
                           int64_t* last_tok) {
  int64_t R = 0;
  for (int64_t k = 1; k < L; ++k) R += (y[k] == y[k - 1]);
  int64_t rep = 0;
  first_blank[0] = 0;
  for (int64_t k = 0; k < L; ++k) {
    if (k > 0 && y[k] == y[k - 1]) ++rep;
    const int64_t first_tok = k + rep;  // each token a frame, each repeat a blank between
    first_blank[k + 1] = first_tok + 1;
    last_tok[k] = (T - 1) - (L - 1 - k) - (R - rep);
  }
}

// Walks the band frame by frame, forwards or backwards, in O(1) amortised per step.
struct BandCursor {
  const int64_t* first_blank;
  const int64_t* last_tok;
  int64_t L;
  int64_t t;
  int64_t lo;
  int64_t hi;

  SUBALIGN_HD void start(const int64_t* fb, const int64_t* lt, int64_t n_tokens) {
    first_blank = fb;
    last_tok = lt;
    L = n_tokens;
    t = 0;
    lo = 0;
    while (lo < L && last_tok[lo] < 0) ++lo;
    hi = 0;
    while (hi < L && first_blank[hi + 1] <= 0) ++hi;
  }
  SUBALIGN_HD void next() {
    ++t;
    while (lo < L && last_tok[lo] < t) ++lo;
    while (hi < L && first_blank[hi + 1] <= t) ++hi;
  }
  SUBALIGN_HD void prev() {
    --t;
    while (lo > 0 && last_tok[lo - 1] >= t) --lo;
    while (hi > 0 && first_blank[hi] > t) --hi;
  }
  SUBALIGN_HD void seek(int64_t frame) {
    while (t < frame) next();
    while (t > frame) prev();
  }
  // Words per bit plane at this frame, for words of `bits` bits.
  // The band's first pair; never above hi (a guard for inputs that fail validation).
  SUBALIGN_HD int64_t low() const { return lo < hi ? lo : hi; }
  // Words per bit plane at this frame, for words of `bits` bits.
  SUBALIGN_HD int64_t words(int bits) const { return hi / bits - low() / bits + 1; }
};

}  // namespace subalign
