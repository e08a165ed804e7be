// forced_align_cpu.cpp: the CPU kernel of subalign::forced_align (contract in forced_align.h).
//
// One task per batch item, spread over at::parallel_for's threads (never a parallel region per
// frame).  Per item and frame, the blank and token scores live in separate arrays, so a frame
// is one branch-free loop over pairs with no parity test; the skip rule is a precomputed
// additive mask (0 or -inf).  The loop runs in AVX-512 or AVX2 when the CPU has them (chosen
// at run time, so the compiled library stays portable) and as plain C++ otherwise; all three
// do the same float operations in the same order, so they give identical bits.
#include "forced_align.h"
#include "trellis.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <numeric>
#include <string>
#include <type_traits>

#if defined(__linux__)
#include <sys/mman.h>
#define SUBALIGN_LINUX 1
#else
#define SUBALIGN_LINUX 0
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SUBALIGN_X86 1
#else
#define SUBALIGN_X86 0
#endif

namespace subalign {
namespace {

using Word = uint64_t;
constexpr int kWordBits = 64;
constexpr int64_t kFront = 16;  // slots before pair 0 in an alpha row; slot -1 stays -inf
constexpr int64_t kBack = 48;   // slots after pair L: vector lanes may run past the band

// A growable array that does not initialise its memory (pages are touched only when written).
// Large ones are mapped directly and, on Linux, asked for transparent huge pages: the
// back-pointers are written once, front to back, and 4 KiB page faults would cost ~10%.
template <typename T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }

  T* get(int64_t n) {
    if (n > size_) {
      release();
      const size_t bytes = static_cast<size_t>(n) * sizeof(T);
#if SUBALIGN_LINUX
      if (bytes >= kHuge) {
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        madvise(p, bytes, MADV_HUGEPAGE);  // advisory: ignored where THP is off
        data_ = static_cast<T*>(p);
        mapped_ = bytes;
        size_ = n;
        return data_;
      }
#endif
      data_ = new T[static_cast<size_t>(n)];
      size_ = n;
    }
    return data_;
  }

 private:
  static constexpr size_t kHuge = size_t(8) << 20;

  void release() {
#if SUBALIGN_LINUX
    if (mapped_) {
      munmap(data_, mapped_);
      mapped_ = 0;
      data_ = nullptr;
    }
#endif
    delete[] data_;
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  int64_t size_ = 0;
  size_t mapped_ = 0;
};

// One frame of the recursion over the pairs [lo, hi], from rows (pb, pt) into (nb, nt):
//   blank k: stay pb[k] or advance pt[k-1] (advance only if strictly better);
//   token k: stay pt[k], advance pb[k] (if strictly better), skip pt[k-1]+skip_add[k] (if
//            strictly better than both); then add the emission.
// Vector groups start at a multiple of the width, so lanes below lo and above hi compute junk
// that no in-band cell reads (the caller re-fences lo-1 and hi+1 with -inf).
template <typename acc_t>
struct Step {
  const acc_t* pb;
  const acc_t* pt;
  acc_t* nb;
  acc_t* nt;
  const acc_t* skip_add;
  const int32_t* yidx;      // emission column of token k
  const uint8_t* yidx8;     // the same as bytes when there are at most 32 columns, else null
  const uint8_t* skip_bits; // bit k: skipping into token k is allowed (skip_add[k] == 0)
  const acc_t* row;     // this frame's emissions, ncols valid entries
  int64_t ncols;
  acc_t eb;  // blank's emission
  int64_t lo;
  int64_t hi;
  uint8_t* plane[3];  // byte 0 of each bit plane holds pairs (lo / 64) * 64 + 0..7
};

template <typename acc_t>
void step_scalar(const Step<acc_t>& s) {
  const int64_t base = (s.lo / kWordBits) * (kWordBits / 8);
  for (int64_t g = s.lo & ~int64_t(7); g <= s.hi; g += 8) {
    unsigned mb = 0, ma = 0, ms = 0;
    for (int j = 0; j < 8; ++j) {
      const int64_t k = g + j;
      const acc_t b = s.pb[k], tk = s.pt[k], tprev = s.pt[k - 1];
      const bool badv = tprev > b;
      s.nb[k] = (badv ? tprev : b) + s.eb;
      const bool tadv = b > tk;
      const acc_t m1 = tadv ? b : tk;
      const acc_t skip = tprev + s.skip_add[k];
      const bool tskip = skip > m1;
      s.nt[k] = (tskip ? skip : m1) + s.row[s.yidx[k]];
      mb |= unsigned(badv) << j;
      ma |= unsigned(tadv) << j;
      ms |= unsigned(tskip) << j;
    }
    const int64_t at = (g >> 3) - base;
    s.plane[0][at] = static_cast<uint8_t>(mb);
    s.plane[1][at] = static_cast<uint8_t>(ma);
    s.plane[2][at] = static_cast<uint8_t>(ms);
  }
}

#if SUBALIGN_X86
__attribute__((target("avx2"))) void step_avx2(const Step<float>& s) {
  const int64_t base = (s.lo / kWordBits) * (kWordBits / 8);
  const __m256 eb = _mm256_set1_ps(s.eb);
  for (int64_t g = s.lo & ~int64_t(7); g <= s.hi; g += 8) {
    const __m256 b = _mm256_loadu_ps(s.pb + g);
    const __m256 tk = _mm256_loadu_ps(s.pt + g);
    const __m256 tprev = _mm256_loadu_ps(s.pt + g - 1);
    const __m256i idx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.yidx + g));
    const __m256 e = _mm256_i32gather_ps(s.row, idx, 4);
    const __m256 badv = _mm256_cmp_ps(tprev, b, _CMP_GT_OQ);
    _mm256_storeu_ps(s.nb + g, _mm256_add_ps(_mm256_blendv_ps(b, tprev, badv), eb));
    const __m256 tadv = _mm256_cmp_ps(b, tk, _CMP_GT_OQ);
    const __m256 m1 = _mm256_blendv_ps(tk, b, tadv);
    const __m256 skip = _mm256_add_ps(tprev, _mm256_loadu_ps(s.skip_add + g));
    const __m256 tskip = _mm256_cmp_ps(skip, m1, _CMP_GT_OQ);
    _mm256_storeu_ps(s.nt + g, _mm256_add_ps(_mm256_blendv_ps(m1, skip, tskip), e));
    const int64_t at = (g >> 3) - base;
    s.plane[0][at] = static_cast<uint8_t>(_mm256_movemask_ps(badv));
    s.plane[1][at] = static_cast<uint8_t>(_mm256_movemask_ps(tadv));
    s.plane[2][at] = static_cast<uint8_t>(_mm256_movemask_ps(tskip));
  }
}

// AVX-512: 16 pairs per step; with at most 32 emission columns (CTC character vocabularies)
// the token emissions come from a two-register permute instead of a memory gather.
__attribute__((target("avx512f"))) void step_avx512(const Step<float>& s) {
  const int64_t base = (s.lo / kWordBits) * (kWordBits / 8);
  const __m512 eb = _mm512_set1_ps(s.eb);
  const bool small = s.ncols <= 32;
  __m512 row_lo = _mm512_setzero_ps(), row_hi = _mm512_setzero_ps();
  if (small) {
    const int64_t n_lo = std::min<int64_t>(s.ncols, 16), n_hi = s.ncols - n_lo;
    row_lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n_lo) - 1u), s.row);
    row_hi = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n_hi) - 1u), s.row + 16);
  }
  const __m512 neg = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t g = s.lo & ~int64_t(15); g <= s.hi; g += 16) {
    const __m512 b = _mm512_loadu_ps(s.pb + g);
    const __m512 tk = _mm512_loadu_ps(s.pt + g);
    const __m512 tprev = _mm512_loadu_ps(s.pt + g - 1);
    __m512 e;
    if (small) {  // 16 byte indices -> a two-register permute (no memory gather)
      const __m128i idx8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.yidx8 + g));
      e = _mm512_permutex2var_ps(row_lo, _mm512_cvtepu8_epi32(idx8), row_hi);
    } else {
      e = _mm512_i32gather_ps(_mm512_loadu_si512(s.yidx + g), s.row, 4);
    }
    const __mmask16 badv = _mm512_cmp_ps_mask(tprev, b, _CMP_GT_OQ);
    _mm512_storeu_ps(s.nb + g, _mm512_add_ps(_mm512_mask_blend_ps(badv, b, tprev), eb));
    const __mmask16 tadv = _mm512_cmp_ps_mask(b, tk, _CMP_GT_OQ);
    const __m512 m1 = _mm512_mask_blend_ps(tadv, tk, b);
    __mmask16 allowed;
    std::memcpy(&allowed, s.skip_bits + (g >> 3), 2);
    const __m512 skip = _mm512_mask_mov_ps(neg, allowed, tprev);  // = tprev + skip_add
    const __mmask16 tskip = _mm512_cmp_ps_mask(skip, m1, _CMP_GT_OQ);
    _mm512_storeu_ps(s.nt + g, _mm512_add_ps(_mm512_mask_blend_ps(tskip, m1, skip), e));
    const int64_t at = (g >> 3) - base;
    std::memcpy(s.plane[0] + at, &badv, 2);
    std::memcpy(s.plane[1] + at, &tadv, 2);
    std::memcpy(s.plane[2] + at, &tskip, 2);
  }
}
#endif

enum class Isa { Scalar, Avx2, Avx512 };

// The widest instruction set this CPU runs; SUBALIGN_FA_ISA=scalar|avx2|avx512 narrows it
// (tests use it to check that every variant gives the same bits).
Isa pick_isa() {
  Isa best = Isa::Scalar;
#if SUBALIGN_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) best = Isa::Avx2;
  if (__builtin_cpu_supports("avx512f")) best = Isa::Avx512;
#endif
  const char* want = std::getenv("SUBALIGN_FA_ISA");
  if (want != nullptr) {
    const std::string w(want);
    if (w == "scalar") return Isa::Scalar;
    if (w == "avx2" && best != Isa::Scalar) return Isa::Avx2;
  }
  return best;
}

template <typename acc_t>
using StepFn = void (*)(const Step<acc_t>&);

template <typename acc_t>
StepFn<acc_t> step_function(Isa) {
  return step_scalar<acc_t>;
}

template <>
StepFn<float> step_function<float>(Isa isa) {
#if SUBALIGN_X86
  if (isa == Isa::Avx512) return step_avx512;
  if (isa == Isa::Avx2) return step_avx2;
#endif
  (void)isa;
  return step_scalar<float>;
}

// Follows one back-pointer: the state (k, tok) at frame t becomes its predecessor at t-1.
// `bytes` is the frame's bit storage (3 planes of nw words, byte-addressed, so the layout is
// the same for every word size and byte order).
inline void follow(const uint8_t* bytes, int64_t nw, int64_t lo, int64_t& k, bool& tok) {
  const int64_t at = (k >> 3) - (lo / kWordBits) * (kWordBits / 8);
  if (at < 0 || at >= nw * (kWordBits / 8)) return;  // unreachable on a finite path
  const int bit = static_cast<int>(k & 7);
  const int64_t plane = nw * (kWordBits / 8);
  if (!tok) {
    if ((bytes[at] >> bit) & 1) {
      k -= 1;
      tok = true;
    }
  } else if ((bytes[2 * plane + at] >> bit) & 1) {
    k -= 1;
  } else if ((bytes[plane + at] >> bit) & 1) {
    tok = false;
  }
}

// Scratch memory of one worker thread, reused across its items.
template <typename acc_t>
struct Scratch {
  Buffer<acc_t> rows, skip_add, erow, snaps;
  Buffer<int32_t> yidx;
  Buffer<uint8_t> yidx8, skip_bits;
  Buffer<int64_t> first_blank, last_tok, snap_start, snap_len, snap_off;
  Buffer<Word> bits;
};

template <typename scalar_t, typename acc_t>
class Aligner {
 public:
  Aligner(const Problem& p, const scalar_t* lp, int64_t* paths, acc_t* scores, Isa isa,
          int64_t concurrency)
      : p_(p), lp_(lp), paths_(paths), scores_(scores), step_(step_function<acc_t>(isa)),
        concurrency_(concurrency) {}

  // Aligns item b; returns false when no alignment has a finite score.
  bool run(int64_t b, Scratch<acc_t>& s) const {
    const int64_t T = p_.input_lengths[b], L = p_.target_lengths[b], C = p_.C;
    const scalar_t* lp = lp_ + b * p_.T * C;
    const int64_t* y = p_.targets.const_data_ptr<int64_t>() + b * p_.L;
    int64_t* path = paths_ + b * p_.T;
    acc_t* score = scores_ + b * p_.T;
    for (int64_t t = T; t < p_.T; ++t) {
      path[t] = p_.blank;
      score[t] = acc_t(0);
    }
    if (T == 0) return true;
    if (L == 0) return all_blank(lp, T, path, score);

    const acc_t neg = -std::numeric_limits<acc_t>::infinity();
    const bool has_star = p_.star >= 0;
    // Emissions are read from the input row itself unless it must be converted or needs the
    // star's extra 0 column (then from a per-frame copy).
    const bool direct = std::is_same_v<scalar_t, acc_t> && !has_star;
    const int64_t ncols = C + (has_star ? 1 : 0);
    acc_t* erow = s.erow.get(ncols + 32);
    std::fill(erow, erow + ncols + 32, acc_t(0));

    int32_t* yidx = s.yidx.get(L + kBack);
    acc_t* skip_add = s.skip_add.get(L + kBack);
    for (int64_t k = 0; k < L + kBack; ++k) {
      if (k < L) {
        yidx[k] = static_cast<int32_t>(has_star && y[k] == p_.star ? C : y[k]);
        skip_add[k] = (k > 0 && y[k] != y[k - 1]) ? acc_t(0) : neg;
      } else {
        yidx[k] = 0;
        skip_add[k] = neg;
      }
    }
    // Compact copies for the AVX-512 loop: byte indices and the skip rule as bits.
    uint8_t* yidx8 = s.yidx8.get(L + kBack);
    uint8_t* skip_bits = s.skip_bits.get((L + kBack) / 8 + 1);
    std::fill(skip_bits, skip_bits + (L + kBack) / 8 + 1, uint8_t(0));
    for (int64_t k = 0; k < L + kBack; ++k) {
      yidx8[k] = static_cast<uint8_t>(ncols <= 32 ? yidx[k] : 0);
      if (skip_add[k] == acc_t(0)) skip_bits[k >> 3] |= uint8_t(1u << (k & 7));
    }
    int64_t* first_blank = s.first_blank.get(L + 1);
    int64_t* last_tok = s.last_tok.get(L);
    fill_band(y, L, T, first_blank, last_tok);

    // Alpha rows: [blank, token] x [two frames], each with kFront/kBack padding.
    const int64_t stride = kFront + L + 1 + kBack;
    acc_t* rows = s.rows.get(4 * stride);
    std::fill(rows, rows + 4 * stride, neg);
    acc_t* blank_row[2] = {rows + kFront, rows + stride + kFront};
    acc_t* tok_row[2] = {rows + 2 * stride + kFront, rows + 3 * stride + kFront};

    auto emissions = [&](int64_t t) -> const acc_t* {
      const scalar_t* src = lp + t * C;
      if (direct) return reinterpret_cast<const acc_t*>(src);
      for (int64_t c = 0; c < C; ++c) erow[c] = static_cast<acc_t>(src[c]);
      return erow;  // erow[C] stays 0: the star column
    };

    const bool full = use_full(y, L, T);
    const int64_t interval = full ? T : checkpoint_interval(L, T, sizeof(acc_t));
    const int64_t n_snaps = full ? 0 : (T - 1) / interval + 1;
    const int64_t frame_words_max = 3 * ((L + 1) / kWordBits + 2);
    Word* bits = s.bits.get(full ? std::max<int64_t>(1, full_mode_bytes(y, L, T, kWordBits) / 8)
                                 : frame_words_max * std::min<int64_t>(interval, T));
    acc_t* snaps = full ? nullptr : s.snaps.get(n_snaps * 2 * (L + 3));
    int64_t* snap_start = s.snap_start.get(n_snaps + 1);
    int64_t* snap_len = s.snap_len.get(n_snaps + 1);
    int64_t* snap_off = s.snap_off.get(n_snaps + 1);

    // Frame 0: the virtual frame -1 sits in blank 0 with score 0.
    int cur = 0;
    {
      const acc_t* row = emissions(0);
      blank_row[0][0] = row[p_.blank];
      tok_row[0][0] = row[yidx[0]];
    }
    BandCursor band;
    band.start(first_blank, last_tok, L);
    int64_t used = 0;
    auto save = [&](int64_t c) {
      const int64_t lo = band.low();
      const int64_t start = std::max<int64_t>(lo - 1, 0), len = band.hi + 2 - start;
      snap_start[c] = start;
      snap_len[c] = len;
      snap_off[c] = used;
      std::copy(blank_row[cur] + start, blank_row[cur] + start + len, snaps + used);
      std::copy(tok_row[cur] + start, tok_row[cur] + start + len, snaps + used + len);
      used += 2 * len;
    };
    // Runs frames (band.t, t_end], writing each frame's bits at `bits` (consecutively when
    // `keep`, else over the same scratch), and snapshots every `interval` frames when asked.
    auto forward = [&](int64_t t_end, bool keep, bool snapshots) -> int64_t {
      int64_t off = 0;
      while (band.t < t_end) {
        band.next();
        const int64_t t = band.t;
        const int64_t lo = band.low(), hi = band.hi;
        const int64_t nw = band.words(kWordBits);
        const int prev = cur;
        cur ^= 1;
        const acc_t* row = emissions(t);
        uint8_t* fb = reinterpret_cast<uint8_t*>(bits + (keep ? off : 0));
        Step<acc_t> st{blank_row[prev], tok_row[prev], blank_row[cur], tok_row[cur], skip_add,
                       yidx, yidx8, skip_bits, row, ncols, row[p_.blank], lo, hi,
                       {fb, fb + nw * 8, fb + 2 * nw * 8}};
        step_(st);
        if (lo >= 1) blank_row[cur][lo - 1] = tok_row[cur][lo - 1] = neg;
        blank_row[cur][hi + 1] = tok_row[cur][hi + 1] = neg;
        if (keep) off += 3 * nw;
        if (snapshots && t % interval == 0) save(t / interval);
      }
      return off;
    };

    if (!full) save(0);
    const int64_t total = forward(T - 1, full, !full);

    // End: last token or final blank; the token wins a tie.
    const acc_t end_tok = tok_row[cur][L - 1], end_blank = blank_row[cur][L];
    bool tok = end_tok >= end_blank;
    if (!((tok ? end_tok : end_blank) > neg)) return false;
    int64_t k = tok ? L - 1 : L;

    // Backtrack over frames (t0, t1] whose bits are at `bits`, `words` in all.
    auto backtrack = [&](int64_t t0, int64_t t1, int64_t words) {
      band.seek(t1);
      for (int64_t t = t1; t > t0; --t) {
        const int64_t lo = band.low();
        const int64_t nw = band.words(kWordBits);
        words -= 3 * nw;
        emit(lp, y, t, k, tok, path, score);
        follow(reinterpret_cast<const uint8_t*>(bits + words), nw, lo, k, tok);
        band.prev();
      }
    };
    if (full) {
      backtrack(0, T - 1, total);
    } else {
      for (int64_t c = n_snaps - 1; c >= 0; --c) {
        const int64_t t0 = c * interval, t1 = std::min(t0 + interval, T - 1);
        if (t1 <= t0) continue;
        cur = 0;
        std::copy(snaps + snap_off[c], snaps + snap_off[c] + snap_len[c],
                  blank_row[0] + snap_start[c]);
        std::copy(snaps + snap_off[c] + snap_len[c], snaps + snap_off[c] + 2 * snap_len[c],
                  tok_row[0] + snap_start[c]);
        band.seek(t0);
        const int64_t words = forward(t1, true, false);
        backtrack(t0, t1, words);
      }
    }
    emit(lp, y, 0, k, tok, path, score);
    return true;
  }

 private:
  bool use_full(const int64_t* y, int64_t L, int64_t T) const {
    if (p_.mode == Mode::Full) return true;
    if (p_.mode == Mode::Checkpoint) return false;
    const int64_t bytes = full_mode_bytes(y, L, T, kWordBits);
    return bytes <= p_.memory_budget / std::max<int64_t>(concurrency_, 1);
  }

  void emit(const scalar_t* lp, const int64_t* y, int64_t t, int64_t k, bool tok, int64_t* path,
            acc_t* score) const {
    const int64_t label = tok ? y[k] : p_.blank;
    path[t] = label;
    score[t] = (tok && p_.star >= 0 && label == p_.star) ? acc_t(0)
                                                         : static_cast<acc_t>(lp[t * p_.C + label]);
  }

  // L = 0: the only path is all blank; it is dead if the running sum reaches -inf.
  bool all_blank(const scalar_t* lp, int64_t T, int64_t* path, acc_t* score) const {
    acc_t sum = 0;
    for (int64_t t = 0; t < T; ++t) {
      const scalar_t v = lp[t * p_.C + p_.blank];
      sum += static_cast<acc_t>(v);
      path[t] = p_.blank;
      score[t] = static_cast<acc_t>(v);
    }
    return sum > -std::numeric_limits<acc_t>::infinity();
  }

  const Problem& p_;
  const scalar_t* lp_;
  int64_t* paths_;
  acc_t* scores_;
  StepFn<acc_t> step_;
  int64_t concurrency_;
};

}  // namespace

std::tuple<at::Tensor, at::Tensor> forced_align_cpu(const at::Tensor& log_probs,
                                                    const at::Tensor& targets,
                                                    const at::Tensor& input_lengths,
                                                    const at::Tensor& target_lengths,
                                                    int64_t blank, int64_t star, int64_t mode,
                                                    int64_t memory_budget) {
  const Problem p = validate(log_probs, targets, input_lengths, target_lengths, blank, star, mode,
                             memory_budget);
  const at::Tensor lp = log_probs.detach().contiguous();
  at::Tensor paths = at::empty({p.B, p.T}, lp.options().dtype(at::kLong));
  // Scores in the accumulation type: float64 for float64 input, else float32 (exact for halves).
  at::Tensor scores = at::empty(
      {p.B, p.T}, lp.options().dtype(lp.scalar_type() == at::kDouble ? at::kDouble : at::kFloat));
  std::vector<uint8_t> dead(p.B, 0);

  // Longest items first, handed out one at a time, so threads finish together.
  std::vector<int64_t> order(p.B);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return p.input_lengths[a] * (p.target_lengths[a] + 1) >
           p.input_lengths[b] * (p.target_lengths[b] + 1);
  });
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), p.B));
  const Isa isa = pick_isa();

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, lp.scalar_type(), "forced_align", [&] {
    using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    const Aligner<scalar_t, acc_t> aligner(p, lp.const_data_ptr<scalar_t>(),
                                           paths.data_ptr<int64_t>(), scores.data_ptr<acc_t>(),
                                           isa, workers);
    std::atomic<int64_t> next{0};
    at::parallel_for(0, workers, 1, [&](int64_t w0, int64_t w1) {
      Scratch<acc_t> scratch;
      for (int64_t w = w0; w < w1; ++w) {
        for (int64_t i = next.fetch_add(1); i < p.B; i = next.fetch_add(1)) {
          const int64_t b = order[i];
          dead[b] = aligner.run(b, scratch) ? 0 : 1;
        }
      }
    });
  });
  check_dead(dead);
  return {paths, scores};
}

}  // namespace subalign

TORCH_LIBRARY_IMPL(subalign, CPU, m) {
  m.impl("forced_align", &subalign::forced_align_cpu);
}
