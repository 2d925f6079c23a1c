// Shared by the host tests: compare with 1e-12 relative tolerance (NaN matches NaN), count failures.
#pragma once
#include <cmath>
#include <cstdio>

static int failures = 0;

static void expect_near(double got, double want, const char* what) {
  bool ok = (std::isnan(want) && std::isnan(got)) || std::fabs(got - want) <= 1e-12 * (1 + std::fabs(want));
  if (!ok) {
    std::printf("FAIL %s: got %.17g want %.17g\n", what, got, want);
    ++failures;
  }
}
