// forced_align.h: the contract of the op subalign::forced_align (CPU and CUDA kernels).
//
//   subalign::forced_align(Tensor log_probs, Tensor targets, Tensor input_lengths,
//                          Tensor target_lengths, int blank, int star=-1, int mode=0,
//                          int memory_budget=1073741824) -> (Tensor paths, Tensor scores)
//
// log_probs       (B, T, C) float16, bfloat16, float32 or float64; finite or -inf inside each
//                 item's frames.  Half types are accumulated in float32, float64 in float64.
// targets         (B, L) int32 or int64; entries beyond an item's length are ignored.
// input_lengths   (B,) integer, 0 <= T_b <= T;   target_lengths (B,) integer, 0 <= L_b <= L.
// blank           the blank class, 0 <= blank < C; no target may equal it.
// star            -1, or a wildcard class in [0, C] (C: a class not in log_probs): targets equal
//                 to it emit log-prob 0 at every frame instead of reading log_probs.
// mode            0 auto, 1 full back-pointers, 2 checkpoint/recompute (O(L sqrt T) memory);
//                 auto picks full unless an item's back-pointers exceed memory_budget divided
//                 by the number of items aligned at once.  CUDA has full only (auto = full,
//                 checkpoint is an error).
// Returns paths (B, T) int64 (blank at frames >= T_b) and scores (B, T) in the accumulation
// type (float64 for float64 input, else float32), the input's log-prob of each frame's label
// (0 beyond T_b, 0 for a star frame).  The Python wrapper (subalign/align/_extension.py) hands
// them back in torchaudio's dtypes: paths as the targets, scores as log_probs.
//
// Result: the Viterbi path over blank, y1, blank, ..., yL, blank, with the true maximum at every
// cell and the tie preference stay > advance > skip; at the last frame the last token beats
// the final blank on a tie.  That is exactly the PyTorch reference subalign.align.viterbi.
//
// Errors (c10::ValueError, before anything proportional to the trellis is allocated): wrong
// ndim, dtype or device; blank or star out of range; lengths out of range; target ids out of
// range or equal to blank; T_b < L_b + R_b (R_b repeats); NaN or +inf in an item's frames.
// After the forward pass: an item with no finite-score alignment.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>
#include <vector>

namespace subalign {

enum class Mode : int64_t { Auto = 0, Full = 1, Checkpoint = 2 };

// Everything the kernels need to know about a validated call, on the host.
struct Problem {
  int64_t B = 0, T = 0, C = 0, L = 0;  // padded sizes; L = targets.size(1)
  int64_t blank = 0;
  int64_t star = -1;
  Mode mode = Mode::Auto;
  int64_t memory_budget = 0;
  std::vector<int64_t> input_lengths;   // T_b
  std::vector<int64_t> target_lengths;  // L_b
  at::Tensor targets;                   // (B, L) int64, contiguous, on the CPU
};

// Checks every precondition above (except the no-finite-path one) in one place and returns the
// host-side description.  Reads targets and lengths on the host (a small copy for CUDA inputs).
Problem validate(const at::Tensor& log_probs, const at::Tensor& targets,
                 const at::Tensor& input_lengths, const at::Tensor& target_lengths, int64_t blank,
                 int64_t star, int64_t mode, int64_t memory_budget);

// Raises the "no finite-score alignment" error for the first dead item, if any.
void check_dead(const std::vector<uint8_t>& dead);

// Bytes of back-pointers of one item in full mode (3 bits per pair over the band, in words of
// `word_bits` bits); 0 when the item needs no trellis.
int64_t full_mode_bytes(const int64_t* y, int64_t L, int64_t T, int word_bits);

// Frames between stored checkpoints so that snapshots and one block of bits weigh about the
// same: O(L sqrt(T)) memory in all.
int64_t checkpoint_interval(int64_t L, int64_t T, int64_t acc_bytes);

std::tuple<at::Tensor, at::Tensor> forced_align_cpu(const at::Tensor& log_probs,
                                                    const at::Tensor& targets,
                                                    const at::Tensor& input_lengths,
                                                    const at::Tensor& target_lengths,
                                                    int64_t blank, int64_t star, int64_t mode,
                                                    int64_t memory_budget);

}  // namespace subalign
