// Deterministic reductions for the device kernels (fixed trees, no atomics, every thread gets the
// result), and the two ways a kernel spreads a row over threads: a warp per row (many rows), or a
// block per row (few, wide rows: a warp alone would leave most of the GPU idle).
#pragma once
#include "common.cuh"

namespace fastseg {

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ double warp_sum(double v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFullMask, v, off);
  return v;
}

// max that propagates NaN
__device__ __forceinline__ double nan_max(double a, double b) { return (b > a || b != b) ? b : a; }

__device__ __forceinline__ double warp_max(double v) {
  for (int off = 16; off > 0; off >>= 1) v = nan_max(v, __shfl_xor_sync(kFullMask, v, off));
  return v;
}

// A row spread over one warp: thread `rank` of 32.
struct WarpRow {
  int rank;
  static constexpr int size = 32;
  static constexpr int threads = 128;  // per block (4 rows): as fastseg/_native.py launches
  __device__ static long long row() {
    return (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  }
  __device__ static WarpRow here() { return {static_cast<int>(threadIdx.x & 31)}; }
  __device__ double sum(double v) const { return warp_sum(v); }
  __device__ double max(double v) const { return warp_max(v); }
  __device__ void sync() const { __syncwarp(); }  // the row's earlier writes are visible to all
};

// A row spread over a block of kThreads threads (whole warps): thread `rank` of kThreads.
template <int kThreads>
struct BlockRow {
  static_assert(kThreads % 32 == 0 && kThreads <= 1024, "a block is whole warps, at most 1024 threads");
  int rank;
  static constexpr int size = kThreads;
  static constexpr int threads = kThreads;
  __device__ static long long row() { return blockIdx.x; }
  __device__ static BlockRow here() { return {static_cast<int>(threadIdx.x)}; }
  __device__ double sum(double v) const { return reduce<false>(v); }
  __device__ double max(double v) const { return reduce<true>(v); }
  __device__ void sync() const { __syncthreads(); }

  // Each warp reduces its values, then every thread reduces the warps' results in warp order.
  template <bool kMax>
  __device__ double reduce(double v) const {
    __shared__ double partial[kThreads / 32];
    v = kMax ? warp_max(v) : warp_sum(v);
    if (rank % 32 == 0) partial[rank / 32] = v;
    __syncthreads();
    double r = partial[0];
    for (int w = 1; w < kThreads / 32; ++w) r = kMax ? nan_max(r, partial[w]) : r + partial[w];
    __syncthreads();  // every thread has read `partial` before a later reduction writes it
    return r;
  }
};

}  // namespace fastseg
