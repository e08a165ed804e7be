// forced_align_op.cpp: the op's schema and its validation, shared by the CPU and CUDA kernels.
//
// Every check runs here, before either kernel allocates anything proportional to the trellis.
// The Python wrapper runs the same checks first (subalign/align/checks.py, shared with the
// reference); these guard direct callers of torch.ops.subalign.forced_align, in the same words
// (tests/test_extension.py compares them).
#include "forced_align.h"
#include "trellis.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

namespace subalign {
namespace {

std::string shape_str(at::IntArrayRef sizes) {
  std::ostringstream out;
  out << "(";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i) out << ", ";
    out << sizes[i];
  }
  if (sizes.size() == 1) out << ",";
  out << ")";
  return out.str();
}

std::string dtype_str(at::ScalarType type) {
  switch (type) {
    case at::kHalf: return "torch.float16";
    case at::kBFloat16: return "torch.bfloat16";
    case at::kFloat: return "torch.float32";
    case at::kDouble: return "torch.float64";
    case at::kByte: return "torch.uint8";
    case at::kChar: return "torch.int8";
    case at::kShort: return "torch.int16";
    case at::kInt: return "torch.int32";
    case at::kLong: return "torch.int64";
    case at::kBool: return "torch.bool";
    default: return std::string("torch.") + c10::toString(type);
  }
}

bool is_length_type(at::ScalarType type) {
  return type == at::kByte || type == at::kChar || type == at::kShort || type == at::kInt ||
         type == at::kLong;
}

// `what`, `axis` and `tensor` name the mismatch, the axis and the padded tensor in messages.
std::vector<int64_t> lengths_of(const at::Tensor& value, const char* name, int64_t batch,
                                int64_t limit, const char* what, const char* axis,
                                const char* tensor) {
  TORCH_CHECK_VALUE(is_length_type(value.scalar_type()), name,
                    " must have an integer dtype, got ", dtype_str(value.scalar_type()));
  at::Tensor v = value;
  if (v.dim() == 0 && batch == 1) v = v.reshape({1});
  TORCH_CHECK_VALUE(v.dim() == 1, name, " must be 1-D, one length per item (shape (", batch,
                    ",)), got shape ", shape_str(v.sizes()));
  TORCH_CHECK_VALUE(v.size(0) == batch, name, " must have shape (", batch, ",), got ",
                    shape_str(v.sizes()));
  at::Tensor host = v.detach().to(at::kCPU, at::kLong).contiguous();
  const int64_t* p = host.data_ptr<int64_t>();
  std::vector<int64_t> out(p, p + batch);
  for (int64_t b = 0; b < batch; ++b) {
    TORCH_CHECK_VALUE(out[b] >= 0 && out[b] <= limit, name, "[", b, "] = ", out[b],
                      " is outside [0, ", limit, "], the ", axis, " of the padded ", tensor,
                      " (", what, " length mismatch)");
  }
  return out;
}

// First frame of item b (below its length) holding NaN or +inf, or -1; CPU tensors only.
template <typename scalar_t>
int64_t first_bad_frame(const scalar_t* lp, int64_t frames, int64_t classes) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  for (int64_t t = 0; t < frames; ++t) {
    const scalar_t* row = lp + t * classes;
    bool bad = false;
    for (int64_t c = 0; c < classes; ++c) bad |= !(static_cast<float>(row[c]) < inf);
    if (bad) return t;
  }
  return -1;
}

void check_values(const at::Tensor& log_probs, const Problem& p) {
  std::vector<int64_t> bad(p.B, -1);
  if (log_probs.is_cpu()) {
    const at::Tensor lp = log_probs.contiguous();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, lp.scalar_type(), "check", [&] {
      const scalar_t* base = lp.const_data_ptr<scalar_t>();
      at::parallel_for(0, p.B, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          bad[b] = first_bad_frame(base + b * p.T * p.C, p.input_lengths[b], p.C);
        }
      });
    });
  } else {
    // One reduction on the device and one small copy back, before the kernel is launched.
    const at::Tensor frame_bad = log_probs.isnan().logical_or(log_probs.isposinf()).any(2);
    const at::Tensor lens = at::tensor(p.input_lengths, at::kLong).to(log_probs.device());
    const at::Tensor live = at::arange(p.T, lens.options()).unsqueeze(0) < lens.unsqueeze(1);
    const at::Tensor host = frame_bad.logical_and(live).to(at::kCPU).contiguous();
    const bool* f = host.const_data_ptr<bool>();
    for (int64_t b = 0; b < p.B; ++b) {
      for (int64_t t = 0; t < p.T; ++t) {
        if (f[b * p.T + t]) {
          bad[b] = t;
          break;
        }
      }
    }
  }
  for (int64_t b = 0; b < p.B; ++b) {
    TORCH_CHECK_VALUE(bad[b] < 0, "item ", b, ": log_probs at frame ", bad[b],
                      " contain NaN or +inf; log-probabilities must be finite or -inf");
  }
}

}  // namespace

Problem validate(const at::Tensor& log_probs, const at::Tensor& targets,
                 const at::Tensor& input_lengths, const at::Tensor& target_lengths, int64_t blank,
                 int64_t star, int64_t mode, int64_t memory_budget) {
  TORCH_CHECK_VALUE(log_probs.dim() == 3,
                    "log_probs must be 3-D (batch, frames, classes), got shape ",
                    shape_str(log_probs.sizes()));
  TORCH_CHECK_VALUE(targets.dim() == 2, "targets must be 2-D (batch, tokens), got shape ",
                    shape_str(targets.sizes()));
  const auto lp_type = log_probs.scalar_type();
  TORCH_CHECK_VALUE(lp_type == at::kHalf || lp_type == at::kBFloat16 || lp_type == at::kFloat ||
                        lp_type == at::kDouble,
                    "log_probs must be float64, float32 or float16 (or bfloat16, which subalign "
                    "also takes), got ",
                    dtype_str(lp_type));
  TORCH_CHECK_VALUE(targets.scalar_type() == at::kInt || targets.scalar_type() == at::kLong,
                    "targets must be int32 or int64 type, got ", dtype_str(targets.scalar_type()));
  TORCH_CHECK_VALUE(log_probs.is_cpu() || log_probs.is_cuda(),
                    "log_probs must be on the CPU or a CUDA device, got ", log_probs.device());
  for (const at::Tensor* t : {&targets, &input_lengths, &target_lengths}) {
    TORCH_CHECK_VALUE(t->is_cpu() || t->device() == log_probs.device(),
                      "targets and lengths must be on the CPU or on log_probs' device (",
                      log_probs.device(), "), got ", t->device());
  }
  Problem p;
  p.B = log_probs.size(0);
  p.T = log_probs.size(1);
  p.C = log_probs.size(2);
  p.L = targets.size(1);
  TORCH_CHECK_VALUE(targets.size(0) == p.B, "batch size mismatch: log_probs has ", p.B,
                    " items, targets has ", targets.size(0));
  TORCH_CHECK_VALUE(p.C > 0, "log_probs has no classes (C = 0)");
  TORCH_CHECK_VALUE(p.T > 0, "log_probs has no frames (T = 0): there is nothing to align");
  TORCH_CHECK_VALUE(blank >= 0 && blank < p.C, "blank = ", blank, " is outside [0, ", p.C,
                    "): blank must be within [0, num classes), and log_probs has ", p.C,
                    " classes");
  TORCH_CHECK_VALUE(star == -1 || (star >= 0 && star <= p.C && star != blank), "star = ", star,
                    " must be -1 (none) or a class in [0, ", p.C, "] other than blank (", blank,
                    ")");
  TORCH_CHECK_VALUE(mode >= 0 && mode <= 2, "mode must be 0 (auto), 1 (full) or 2 (checkpoint), got ",
                    mode);
  TORCH_CHECK_VALUE(memory_budget >= 0, "memory_budget must be >= 0 bytes, got ", memory_budget);
  p.blank = blank;
  p.star = star;
  p.mode = static_cast<Mode>(mode);
  p.memory_budget = memory_budget;
  p.input_lengths =
      lengths_of(input_lengths, "input_lengths", p.B, p.T, "input", "frame count", "log_probs");
  p.target_lengths =
      lengths_of(target_lengths, "target_lengths", p.B, p.L, "target", "token count", "targets");

  p.targets = targets.detach().to(at::kCPU, at::kLong).contiguous();
  const int64_t* tg = p.targets.const_data_ptr<int64_t>();
  for (int64_t b = 0; b < p.B; ++b) {
    const int64_t* y = tg + b * p.L;
    for (int64_t k = 0; k < p.target_lengths[b]; ++k) {
      const int64_t v = y[k];
      if (star >= 0 && v == star) continue;  // the wildcard needs no column
      TORCH_CHECK_VALUE(
          v >= 0 && v < p.C && v != blank, "item ", b, ": target ", k, " = ", v,
          v == blank ? " is the blank id: a targets Tensor shouldn't contain blank index " +
                           std::to_string(blank)
                     : " is outside [0, " + std::to_string(p.C) +
                           "): targets values must be less than the CTC dimension (" +
                           std::to_string(p.C) + " classes) and not negative");
    }
  }
  for (int64_t b = 0; b < p.B; ++b) {
    const int64_t* y = tg + b * p.L;
    int64_t repeats = 0;
    for (int64_t k = 1; k < p.target_lengths[b]; ++k) repeats += (y[k] == y[k - 1]);
    const int64_t need = p.target_lengths[b] + repeats;
    TORCH_CHECK_VALUE(p.input_lengths[b] >= need, "item ", b, ": ", p.target_lengths[b],
                      " tokens (+", repeats, " repeats) need at least ", need,
                      " frames, got ", p.input_lengths[b],
                      "; the targets length is too long for CTC over that many frames");
  }
  check_values(log_probs, p);
  return p;
}

void check_dead(const std::vector<uint8_t>& dead) {
  for (size_t b = 0; b < dead.size(); ++b) {
    TORCH_CHECK_VALUE(!dead[b], "item ", b,
                      ": no alignment has a finite score (every path crosses a -inf log-prob)");
  }
}

int64_t full_mode_bytes(const int64_t* y, int64_t L, int64_t T, int word_bits) {
  if (L == 0 || T <= 1) return 0;
  std::vector<int64_t> first_blank(L + 1), last_tok(L);
  fill_band(y, L, T, first_blank.data(), last_tok.data());
  BandCursor band;
  band.start(first_blank.data(), last_tok.data(), L);
  int64_t words = 0;
  for (int64_t t = 1; t < T; ++t) {
    band.next();
    words += 3 * band.words(word_bits);
  }
  return words * (word_bits / 8);
}

int64_t checkpoint_interval(int64_t L, int64_t T, int64_t acc_bytes) {
  const double snapshot = 2.0 * static_cast<double>(L + 3) * static_cast<double>(acc_bytes);
  const double frame_bits = 24.0 * (static_cast<double>(L) / 64.0 + 2.0);
  const double k = std::sqrt(static_cast<double>(T) * snapshot / frame_bits);
  return std::clamp<int64_t>(static_cast<int64_t>(std::llround(k)), 1, std::max<int64_t>(T, 1));
}

}  // namespace subalign

TORCH_LIBRARY(subalign, m) {
  m.def(
      "forced_align(Tensor log_probs, Tensor targets, Tensor input_lengths, "
      "Tensor target_lengths, int blank, int star=-1, int mode=0, "
      "int memory_budget=1073741824) -> (Tensor, Tensor)");
}
