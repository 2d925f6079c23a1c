// Shared by every fastseg CUDA C++ kernel: host/device qualifiers and float helpers that compile
// with nvcc, NVRTC (CuPy) and a plain host C++ compiler (the ctest host tests).
#pragma once

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define FS_HD __host__ __device__ __forceinline__
#else
#define FS_HD inline
#endif

namespace fastseg {

// True for finite x; false for inf and NaN (x - x is NaN for both). Needs no <cmath>.
FS_HD bool is_finite(double x) { return (x - x) == 0.0; }

FS_HD double abs_value(double x) { return x < 0 ? -x : x; }

FS_HD double quiet_nan() {
  union { unsigned long long bits; double value; } u = {0x7ff8000000000000ULL};
  return u.value;
}

// A row's loss after the per-range reduction: NaN for any non-finite result.
FS_HD double finish_loss(double loss, long long n_ranges, bool mean) {
  if (mean && n_ranges > 0) loss /= static_cast<double>(n_ranges);
  return is_finite(loss) ? loss : quiet_nan();
}

}  // namespace fastseg
