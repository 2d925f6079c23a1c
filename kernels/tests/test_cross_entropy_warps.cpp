// The cross_entropy CUDA kernels themselves (kernels/cross_entropy.cu), a warp per row and a
// block per row, run on the host by warp_sim, against the serial row definitions: class-index
// targets (weights, label smoothing, ignore_index, labels outside [0, C)), probability targets,
// and Keras's probability cross-entropy (rows not summing to 1, entries clipped at both ends);
// class counts below, at and above a warp and a block; per-row gradient scales; with and without
// the gradient. The kernels take exp in the input precision, so float32 is compared within 1e-6,
// float64 within 1e-12.
#include "tests/warp_sim.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "cross_entropy.cu"
#include "tests/expect.h"

namespace {

constexpr double kScale = 0.5;
constexpr long long kIgnore = -100;

struct Options {
  bool weighted, smoothed, row_scaled, want_grad;
};

template <class T>
struct Rows {
  long long n, c;
  std::vector<T> x, probs, keras_probs;
  std::vector<long long> labels;
  std::vector<double> w, row_scale;
};

template <class T>
Rows<T> make_rows(std::mt19937_64& rng, long long n, long long c) {
  Rows<T> r{n, c, {}, {}, {}, {}, {}, {}};
  std::normal_distribution<double> logit(0.0, 3.0);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<long long> label(-1, c);
  for (long long k = 0; k < n * c; ++k) {
    r.x.push_back(T(logit(rng)));
    r.probs.push_back(T(unit(rng) < 0.3 ? 0.0 : unit(rng)));
    r.keras_probs.push_back(T(unit(rng) * 2.0));
  }
  if (n > 1) r.keras_probs[c] = T(1e-12);  // clipped at 1e-7
  if (n > 2)                               // clipped at 1 - 1e-7
    for (long long j = 0; j < c; ++j) r.keras_probs[2 * c + j] = T(j ? 1e-13 : 5.0);
  if (n > 4) r.x[4 * c + c / 2] = T(NAN);  // a NaN logit: a NaN row
  for (long long i = 0; i < n; ++i) r.labels.push_back(i % 4 == 3 ? kIgnore : (i % 5 == 4 ? label(rng) : (i * 3) % c));
  for (long long j = 0; j < c; ++j) r.w.push_back(0.5 + static_cast<double>(j % 4) * 0.25);
  for (long long i = 0; i < n; ++i) r.row_scale.push_back(1.0 + static_cast<double>(i % 3));
  return r;
}

template <class T>
struct Kernels {
  const char* layout;
  unsigned threads, rows_per_block;  // a warp per row: 128, 4; a block per row: 256, 1
  void (*klass)(const T*, const long long*, const double*, int, long long, double, double, const double*, int,
                T*, T*, int, long long, long long);
  void (*prob)(const T*, const T*, const double*, int, double, double, const double*, int, T*, T*, int,
               long long, long long);
  void (*keras)(const T*, const T*, double, double, const double*, int, T*, T*, int, long long, long long);
};

template <class T, class Serial>
void compare(const char* what, const Rows<T>& r, const Options& o, const std::vector<T>& loss,
             const std::vector<T>& grad, Serial serial) {
  const double tol = sizeof(T) == 8 ? 1e-12 : 1e-6;
  std::vector<T> want_g(r.c);
  char name[160];
  for (long long i = 0; i < r.n; ++i) {
    double want = serial(i, kScale * (o.row_scaled ? r.row_scale[i] : 1.0), want_g.data());
    std::snprintf(name, sizeof name, "%s %lldx%lld%s%s%s row %lld", what, r.n, r.c, o.weighted ? " weighted" : "",
                  o.smoothed ? " smoothed" : "", o.row_scaled ? " row_scale" : "", i);
    expect_near(loss[i], want, name, tol);
    for (long long j = 0; j < r.c; ++j) expect_near(grad[i * r.c + j], o.want_grad ? want_g[j] : -7.0, name, tol);
  }
}

template <class T>
void check(const char* dtype, const Rows<T>& r, const Options& o, const Kernels<T>& k) {
  const double eps = o.smoothed ? 0.2 : 0.0;
  const double* w = o.weighted ? r.w.data() : nullptr;
  const unsigned grid = static_cast<unsigned>((r.n + k.rows_per_block - 1) / k.rows_per_block);
  const auto order = warp_sim::Order::forward;
  std::vector<T> loss(r.n), grad(r.n * r.c);
  char what[64];

  loss.assign(r.n, T(-7)), grad.assign(r.n * r.c, T(-7));
  warp_sim::launch(k.klass, grid, k.threads, order, r.x.data(), r.labels.data(), r.w.data(), int(o.weighted),
                   kIgnore, eps, kScale, r.row_scale.data(), int(o.row_scaled), loss.data(), grad.data(),
                   int(o.want_grad), r.n, r.c);
  std::snprintf(what, sizeof what, "%s %s class targets", dtype, k.layout);
  compare(what, r, o, loss, grad, [&](long long i, double gs, T* g) {
    return fastseg::class_row_serial(&r.x[i * r.c], r.c, r.labels[i], w, eps, kIgnore, gs, g);
  });

  loss.assign(r.n, T(-7)), grad.assign(r.n * r.c, T(-7));
  warp_sim::launch(k.prob, grid, k.threads, order, r.x.data(), r.probs.data(), r.w.data(), int(o.weighted), eps,
                   kScale, r.row_scale.data(), int(o.row_scaled), loss.data(), grad.data(), int(o.want_grad),
                   r.n, r.c);
  std::snprintf(what, sizeof what, "%s %s probability targets", dtype, k.layout);
  compare(what, r, o, loss, grad, [&](long long i, double gs, T* g) {
    return fastseg::prob_row_serial(&r.x[i * r.c], &r.probs[i * r.c], r.c, w, eps, gs, g);
  });

  loss.assign(r.n, T(-7)), grad.assign(r.n * r.c, T(-7));
  warp_sim::launch(k.keras, grid, k.threads, order, r.probs.data(), r.keras_probs.data(), eps, kScale,
                   r.row_scale.data(), int(o.row_scaled), loss.data(), grad.data(), int(o.want_grad), r.n, r.c);
  std::snprintf(what, sizeof what, "%s %s keras probabilities", dtype, k.layout);
  compare(what, r, o, loss, grad, [&](long long i, double gs, T* g) {
    return fastseg::keras_row_serial(&r.probs[i * r.c], &r.keras_probs[i * r.c], r.c, eps, gs, g);
  });
}

template <class T>
void run_all(const char* dtype, const Kernels<T>& k) {
  std::mt19937_64 rng(20261127);
  const long long shapes[][2] = {{6, 2}, {9, 5}, {5, 32}, {7, 33}, {4, 1000}, {3, 3000}};
  for (const auto& s : shapes) {
    Rows<T> r = make_rows<T>(rng, s[0], s[1]);
    for (int v = 0; v < 16; ++v) check<T>(dtype, r, Options{bool(v & 1), bool(v & 2), bool(v & 4), bool(v & 8)}, k);
  }
}

}  // namespace

int main() {
  run_all<float>("float32", {"warp", 128, 4, cross_entropy_class_f32, cross_entropy_prob_f32, cross_entropy_keras_f32});
  run_all<double>("float64", {"warp", 128, 4, cross_entropy_class_f64, cross_entropy_prob_f64, cross_entropy_keras_f64});
  run_all<float>("float32", {"block", 256, 1, cross_entropy_class_block_f32, cross_entropy_prob_block_f32,
                             cross_entropy_keras_block_f32});
  run_all<double>("float64", {"block", 256, 1, cross_entropy_class_block_f64, cross_entropy_prob_block_f64,
                              cross_entropy_keras_block_f64});
  return finish("cross_entropy kernels under warp_sim");
}
