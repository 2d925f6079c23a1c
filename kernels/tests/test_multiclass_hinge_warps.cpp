// The multiclass_hinge CUDA kernels themselves (kernels/multiclass_hinge.cu), a warp per row and
// a block per row, run on the host by warp_sim, against the serial row definition: random scores
// with ties and exact-zero margins, class counts below, at and above a warp and a block, labels
// outside [0, C), p = 1 and 2, class weights, torch's division by C, per-row gradient scales, with
// and without the gradient.
#include "tests/warp_sim.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "multiclass_hinge.cu"
#include "tests/expect.h"

namespace {

template <class T>
using Kernel = void (*)(const T*, const long long*, const double*, int, double, int, int, double, const double*,
                        int, T*, T*, int, long long, long long);

template <class T>
struct Layout {
  const char* name;
  unsigned threads, rows_per_block;  // a warp per row: 128, 4; a block per row: 256, 1
  Kernel<T> kernel;
};

template <class T>
void check(const char* dtype, long long n, long long c, int p, bool weighted, bool divide, bool row_scaled,
           bool want_grad, std::mt19937_64& rng, const Layout<T>& layout) {
  std::uniform_int_distribution<int> level(-4, 4);
  std::uniform_int_distribution<long long> label(-1, c);
  std::vector<T> s(n * c);
  for (T& v : s) v = T(level(rng) * 0.5);  // coarse levels: ties and margins of exactly 0
  std::vector<long long> y(n);
  for (long long i = 0; i < n; ++i) y[i] = i % 5 == 4 ? label(rng) : (i * 7) % c;
  std::vector<double> w(c), rs(n);
  for (long long j = 0; j < c; ++j) w[j] = 0.5 + static_cast<double>(j % 3);
  for (long long i = 0; i < n; ++i) rs[i] = 1.0 + static_cast<double>(i % 2);
  const double margin = 1.0, scale = 0.125, tol = sizeof(T) == 8 ? 1e-12 : 1e-6;
  std::vector<T> loss(n, T(-7)), grad(n * c, T(-7)), want_g(c);
  warp_sim::launch(layout.kernel, static_cast<unsigned>((n + layout.rows_per_block - 1) / layout.rows_per_block),
                   layout.threads, warp_sim::Order::forward,
                   s.data(), y.data(), w.data(), int(weighted), margin, p, int(divide), scale, rs.data(),
                   int(row_scaled), loss.data(), grad.data(), int(want_grad), n, c);
  char name[128];
  for (long long i = 0; i < n; ++i) {
    bool ok = y[i] >= 0 && y[i] < c;
    double wi = (weighted && ok ? w[y[i]] : 1.0) / (divide ? static_cast<double>(c) : 1.0);
    double gw = wi * scale * (row_scaled ? rs[i] : 1.0);
    double want = fastseg::hinge_row_serial(&s[i * c], y[i], c, margin, p, wi, gw, want_g.data());
    std::snprintf(name, sizeof name, "%s %s %lldx%lld p=%d%s%s%s row %lld (label %lld)", dtype, layout.name, n, c, p,
                  weighted ? " weighted" : "", divide ? " /C" : "", row_scaled ? " row_scale" : "", i, y[i]);
    expect_near(loss[i], want, name, tol);
    for (long long j = 0; j < c; ++j)
      expect_near(grad[i * c + j], want_grad ? want_g[j] : -7.0, name, tol);
  }
}

template <class T>
void run_all(const char* dtype, const Layout<T>& layout) {
  std::mt19937_64 rng(20261127);
  const long long shapes[][2] = {{6, 1}, {9, 3}, {5, 32}, {7, 33}, {4, 1000}, {2, 3000}};
  for (const auto& sh : shapes)
    for (int variant = 0; variant < 32; ++variant)
      check<T>(dtype, sh[0], sh[1], variant & 1 ? 2 : 1, variant & 2, variant & 4, variant & 8, variant & 16,
               rng, layout);
}

}  // namespace

int main() {
  run_all<float>("float32", Layout<float>{"warp", 128, 4, multiclass_hinge_f32});
  run_all<double>("float64", Layout<double>{"warp", 128, 4, multiclass_hinge_f64});
  run_all<float>("float32", Layout<float>{"block", 256, 1, multiclass_hinge_block_f32});
  run_all<double>("float64", Layout<double>{"block", 256, 1, multiclass_hinge_block_f64});
  return finish("multiclass_hinge kernels under warp_sim");
}
