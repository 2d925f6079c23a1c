// Shared by the host tests: compare with a relative tolerance (1e-12 unless given; NaN matches
// NaN), count failures, report them.
#pragma once
#include <cmath>
#include <cstdio>

inline int failures = 0;

inline void expect_near(double got, double want, const char* what, double tol = 1e-12) {
  bool ok = (std::isnan(want) && std::isnan(got)) || std::fabs(got - want) <= tol * (1 + std::fabs(want));
  if (!ok) {
    std::printf("FAIL %s: got %.17g want %.17g\n", what, got, want);
    ++failures;
  }
}

// main's exit status: the failure count printed and 1, or "<what>: all passed" and 0.
inline int finish(const char* what) {
  if (failures) {
    std::printf("%d failures\n", failures);
    return 1;
  }
  std::printf("%s: all passed\n", what);
  return 0;
}
