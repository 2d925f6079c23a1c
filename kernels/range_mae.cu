// range_mae CUDA kernels: one warp per row, 32-element tiles, scans by warp shuffles.
//
// forward: a segmented scan of (sum |t - p|, count) restarting at range starts; lanes where a
//   range ends add sum / count; the open range is carried to the next tile.
// fused:   pass 1 (left to right) stores each element's range start in the gradient buffer
//   (prefix max); pass 2 (right to left) gets each element's range end (suffix min), adds
//   |t - p| / |r| and overwrites the buffer with the gradient. Exact for L < 2^24 in float32.
// Deterministic: fixed shuffle trees, no atomics. Loaded by fastseg/ops/range_mae/native.py.
#include "range_mae_row.cuh"

namespace fastseg {

constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ long long row_length(const long long* lengths, int has_lengths,
                                                long long row, long long L) {
  return has_lengths ? lengths[row] : L;
}

__device__ __forceinline__ double warp_sum(double x) {
  for (int off = 16; off > 0; off >>= 1) x += __shfl_down_sync(kFull, x, off);
  return x;
}

template <class T>
__device__ void forward_row(const T* t, const T* p, long long n, long long L, bool mean,
                            T* out_loss, int lane) {
  if (n < 0 || n > L) {
    if (lane == 0) *out_loss = T(quiet_nan());
    return;
  }
  double loss = 0.0, carry_sum = 0.0;
  long long carry_count = 0, n_ranges = 0;
  for (long long base = 0; base < n; base += 32) {
    long long i = base + lane;
    bool valid = i < n;
    bool head = starts_range(t, i, n);
    double a = valid ? abs_value(static_cast<double>(t[i]) - static_cast<double>(p[i])) : 0.0;
    long long c = valid ? 1 : 0;
    if (lane == 0 && !head) {
      a += carry_sum;
      c += carry_count;
    }
    int f = (head || lane == 0) ? 1 : 0;
    for (int off = 1; off < 32; off <<= 1) {
      double oa = __shfl_up_sync(kFull, a, off);
      long long oc = __shfl_up_sync(kFull, c, off);
      int of = __shfl_up_sync(kFull, f, off);
      if (lane >= off && !f) {
        a += oa;
        c += oc;
        f = of;
      }
    }
    if (valid && (i == n - 1 || starts_range(t, i + 1, n))) loss += a / static_cast<double>(c);
    carry_sum = __shfl_sync(kFull, a, 31);
    carry_count = __shfl_sync(kFull, c, 31);
    n_ranges += __popc(__ballot_sync(kFull, head));
  }
  loss = warp_sum(loss);
  if (lane == 0) *out_loss = T(finish_loss(loss, n_ranges, mean));
}

template <class T>
__device__ void fused_row(const T* t, const T* p, T* g, long long n, long long L, bool mean,
                          double scale, T* out_loss, int lane) {
  if (n < 0 || n > L) {
    for (long long i = lane; i < L; i += 32) g[i] = T(quiet_nan());
    if (lane == 0) *out_loss = T(quiet_nan());
    return;
  }
  for (long long i = n + lane; i < L; i += 32) g[i] = T(0);
  long long carry_start = 0, n_ranges = 0;
  for (long long base = 0; base < n; base += 32) {
    long long i = base + lane;
    bool head = starts_range(t, i, n);
    long long s = head ? i : -1;
    for (int off = 1; off < 32; off <<= 1) {
      long long o = __shfl_up_sync(kFull, s, off);
      if (lane >= off && o > s) s = o;
    }
    if (carry_start > s) s = carry_start;
    if (i < n) g[i] = T(s);
    carry_start = __shfl_sync(kFull, s, 31);
    n_ranges += __popc(__ballot_sync(kFull, head));
  }
  if (mean && n_ranges > 0) scale /= static_cast<double>(n_ranges);
  double loss = 0.0;
  long long carry_end = n;
  for (long long tile = (n + 31) / 32 - 1; tile >= 0; --tile) {
    long long i = tile * 32 + lane;
    long long e = starts_range(t, i + 1, n) ? i + 1 : n;
    for (int off = 1; off < 32; off <<= 1) {
      long long o = __shfl_down_sync(kFull, e, off);
      if (lane + off < 32 && o < e) e = o;
    }
    long long tile_min = __shfl_sync(kFull, e, 0);
    if (carry_end < e) e = carry_end;
    if (tile_min < carry_end) carry_end = tile_min;
    if (i < n) {
      double w = 1.0 / static_cast<double>(e - static_cast<long long>(g[i]));
      T d = t[i] - p[i];
      loss += abs_value(static_cast<double>(d)) * w;
      g[i] = grad_value(d, T(scale * w));
    }
  }
  loss = warp_sum(loss);
  if (lane == 0) *out_loss = T(finish_loss(loss, n_ranges, mean));
}

}  // namespace fastseg

#define FASTSEG_RANGE_MAE_KERNELS(T, SUFFIX)                                                   \
  extern "C" __global__ void range_mae_forward_##SUFFIX(                                       \
      const T* t, const T* p, const long long* lengths, int has_lengths, int mean,             \
      T* out_loss, long long rows, long long L) {                                              \
    long long row = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;      \
    if (row >= rows) return;                                                                   \
    fastseg::forward_row<T>(t + row * L, p + row * L,                                          \
                            fastseg::row_length(lengths, has_lengths, row, L), L, mean != 0,   \
                            out_loss + row, threadIdx.x & 31);                                 \
  }                                                                                            \
  extern "C" __global__ void range_mae_fused_##SUFFIX(                                         \
      const T* t, const T* p, const long long* lengths, int has_lengths, int mean,             \
      double scale, const double* row_scale, int has_row_scale, T* out_loss, T* out_grad,      \
      long long rows, long long L) {                                                           \
    long long row = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;      \
    if (row >= rows) return;                                                                   \
    fastseg::fused_row<T>(t + row * L, p + row * L, out_grad + row * L,                        \
                          fastseg::row_length(lengths, has_lengths, row, L), L, mean != 0,     \
                          scale * (has_row_scale ? row_scale[row] : 1.0), out_loss + row,      \
                          threadIdx.x & 31);                                                   \
  }

FASTSEG_RANGE_MAE_KERNELS(float, f32)
FASTSEG_RANGE_MAE_KERNELS(double, f64)
