// forced_align_cuda.cu: the CUDA implementation of subalign::forced_align (contract in
// forced_align.h, kernel in forced_align_kernels.cuh).
//
// The host validates (a small copy of targets and lengths, one NaN reduction), sizes the
// back-pointer storage exactly from the band of every item, and enqueues one kernel for the
// whole batch on the current stream.  Back-pointers and backtracking stay on the device.  The
// one synchronisation is after that kernel, to raise the "no finite-score alignment" error
// the contract promises.  Only mode "full" exists here; GPU memory holds 1.5 bits per state.
#include "forced_align.h"
#include "forced_align_kernels.cuh"
#include "trellis.h"

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <type_traits>
#include <vector>

namespace subalign {
namespace {

template <typename scalar_t>
struct DeviceType {
  using type = scalar_t;
};
template <>
struct DeviceType<at::Half> {
  using type = __half;
};
template <>
struct DeviceType<at::BFloat16> {
  using type = __nv_bfloat16;
};

}  // namespace

std::tuple<at::Tensor, at::Tensor> forced_align_cuda(const at::Tensor& log_probs,
                                                     const at::Tensor& targets,
                                                     const at::Tensor& input_lengths,
                                                     const at::Tensor& target_lengths,
                                                     int64_t blank, int64_t star, int64_t mode,
                                                     int64_t memory_budget) {
  const Problem p = validate(log_probs, targets, input_lengths, target_lengths, blank, star, mode,
                             memory_budget);
  TORCH_CHECK_VALUE(p.mode != Mode::Checkpoint,
                    "mode='checkpoint' is implemented on the CPU only; use mode='full' or "
                    "'auto' on CUDA, or move log_probs to the CPU");
  const c10::cuda::CUDAGuard guard(log_probs.device());
  const at::Tensor lp = log_probs.detach().contiguous();
  const auto device = lp.device();
  const auto i64 = at::TensorOptions().dtype(at::kLong);

  // Exact back-pointer storage: 3 bits per pair over each item's band, in 32-bit words.
  std::vector<int64_t> bits_offset(p.B);
  int64_t words = 0;
  const int64_t* tg = p.targets.const_data_ptr<int64_t>();
  for (int64_t b = 0; b < p.B; ++b) {
    bits_offset[b] = words;
    words += full_mode_bytes(tg + b * p.L, p.target_lengths[b], p.input_lengths[b], 32) / 4;
  }

  at::Tensor paths = at::empty({p.B, p.T}, i64.device(device));
  // Scores in the accumulation type: float64 for float64 input, else float32 (exact for halves).
  at::Tensor scores = at::empty(
      {p.B, p.T}, lp.options().dtype(lp.scalar_type() == at::kDouble ? at::kDouble : at::kFloat));
  at::Tensor dead = at::zeros({p.B}, lp.options().dtype(at::kInt));
  at::Tensor bits = at::empty({std::max<int64_t>(words, 1)}, lp.options().dtype(at::kInt));
  at::Tensor band = at::empty({p.B * (2 * p.L + 1)}, i64.device(device));
  at::Tensor info = at::empty({p.B * p.T * gpu::kInfo}, i64.device(device));
  at::Tensor dev_targets = p.targets.to(device);
  at::Tensor dev_in = at::tensor(p.input_lengths, i64).to(device);
  at::Tensor dev_tg = at::tensor(p.target_lengths, i64).to(device);
  at::Tensor dev_off = at::tensor(bits_offset, i64).to(device);
  const int64_t stride = gpu::kFront + p.L + 1 + gpu::kBack;
  const cudaStream_t stream = c10::cuda::getCurrentCUDAStream();

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, lp.scalar_type(), "forced_align", [&] {
    using dev_t = typename DeviceType<scalar_t>::type;
    using acc_t = std::conditional_t<std::is_same_v<scalar_t, double>, double, float>;
    const bool shared_alpha = gpu::alpha_fits_shared<acc_t>(stride, device.index());
    at::Tensor alpha = at::empty({shared_alpha ? 1 : p.B * 4 * stride},
                                 lp.options().dtype(std::is_same_v<acc_t, double> ? at::kDouble
                                                                                  : at::kFloat));
    gpu::Params<dev_t, acc_t> args{};
    args.log_probs = reinterpret_cast<const dev_t*>(lp.const_data_ptr<scalar_t>());
    args.targets = dev_targets.const_data_ptr<int64_t>();
    args.input_lengths = dev_in.const_data_ptr<int64_t>();
    args.target_lengths = dev_tg.const_data_ptr<int64_t>();
    args.bits_offset = dev_off.const_data_ptr<int64_t>();
    args.bits = reinterpret_cast<uint32_t*>(bits.data_ptr<int32_t>());
    args.alpha = alpha.data_ptr<acc_t>();
    args.band = band.data_ptr<int64_t>();
    args.frame_info = info.data_ptr<int64_t>();
    args.paths = paths.data_ptr<int64_t>();
    args.scores = scores.data_ptr<acc_t>();
    args.dead = dead.data_ptr<int32_t>();
    args.T = p.T;
    args.C = p.C;
    args.L = p.L;
    args.blank = p.blank;
    args.star = p.star;
    args.stride = stride;
    args.shared_alpha = shared_alpha;
    C10_CUDA_CHECK(gpu::launch_forced_align(args, p.B, stream));
  });

  const at::Tensor dead_host = dead.to(at::kCPU);
  const int32_t* d = dead_host.const_data_ptr<int32_t>();
  check_dead(std::vector<uint8_t>(d, d + p.B));
  return {paths, scores};
}

}  // namespace subalign

TORCH_LIBRARY_IMPL(subalign, CUDA, m) {
  m.impl("forced_align", &subalign::forced_align_cuda);
}
