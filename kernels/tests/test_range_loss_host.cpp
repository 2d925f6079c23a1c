// Host test of range_loss's per-row logic (kernels/range_loss_row.cuh), the same code the CUDA
// kernels call: hand tables with hand-computed losses and gradients for MAE, MSE and Huber, ranges
// from y_true and from segment ids, lengths, NaN rows.
#include <cmath>
#include <cstdio>
#include <vector>

#include "range_loss_row.cuh"
#include "tests/expect.h"

// One row under loss kKind: ranges from `seg` when it is not empty, else from t.
template <int kKind, class T>
static void check_row(const char* name, std::vector<T> t, std::vector<T> p, std::vector<long long> seg, long long n,
                      bool mean, double delta, double want_loss, std::vector<double> want_grad) {
  const long long L = static_cast<long long>(t.size());
  std::vector<T> g(t.size(), T(-99));
  auto run = [&](T* grad) {
    return seg.empty() ? fastseg::row_loss_grad_serial<kKind>(t.data(), t.data(), p.data(), grad, n, L, mean, 1.0, delta)
                       : fastseg::row_loss_grad_serial<kKind>(seg.data(), t.data(), p.data(), grad, n, L, mean, 1.0,
                                                              delta);
  };
  expect_near(run(g.data()), want_loss, name);
  for (size_t i = 0; i < g.size(); ++i) expect_near(g[i], want_grad[i], name);
  expect_near(run(nullptr), want_loss, name);
}

int main() {
  using fastseg::kHuber;
  using fastseg::kMae;
  using fastseg::kMse;
  const double nan = std::nan("");
  const std::vector<long long> none;
  // MAE, ranges from y_true
  check_row<kMae, double>("one range", {2, 2, 2, 2}, {1, 2, 3, 2}, none, 4, false, 1, 0.5, {-0.25, 0, 0.25, 0});
  check_row<kMae, double>("each element a range", {0, 1, 2, 3}, {1, 1, 1, 1}, none, 4, false, 1, 4, {1, 0, -1, -1});
  check_row<kMae, double>("length-1 ranges at both ends", {5, 1, 1, 1, 7}, {4, 1, 2, 0, 7}, none, 5, false, 1,
                          1 + 2.0 / 3, {-1, 0, 1.0 / 3, -1.0 / 3, 0});
  check_row<kMae, double>("mean over ranges", {5, 1, 1, 1, 7}, {4, 1, 2, 0, 7}, none, 5, true, 1, (1 + 2.0 / 3) / 3,
                          {-1.0 / 3, 0, 1.0 / 9, -1.0 / 9, 0});
  check_row<kMae, double>("lengths cut a range", {1, 1, 2, 2}, {0, 1, 0, 9}, none, 3, false, 1, 2.5,
                          {-0.5, 0, -1, 0});
  check_row<kMae, double>("length 0", {1, 2}, {0, 0}, none, 0, false, 1, 0, {0, 0});
  check_row<kMae, double>("length past the row", {1, 2}, {0, 0}, none, 3, false, 1, nan, {nan, nan});
  check_row<kMae, double>("NaN prediction", {1, 1, 2}, {0, nan, 2}, none, 3, false, 1, nan, {-0.5, nan, 0});
  check_row<kMae, double>("inf target", {1, INFINITY, 2}, {0, 0, 2}, none, 3, false, 1, nan, {-1, -1, 0});
  check_row<kMae, float>("float32 seed picture", {0.2f, 0.2f, 0.2f, 0.7f, 0.7f, 0.4f},
                         {0.3f, 0.2f, 0.1f, 0.7f, 0.5f, 0.4f}, none, 6, false, 1,
                         (double(std::fabs(0.2f - 0.3f)) + double(std::fabs(0.2f - 0.1f))) / 3.0 +
                             double(std::fabs(0.7f - 0.5f)) / 2.0,
                         {1.0f / 3, 0, -1.0f / 3, 0, -0.5f, 0});
  // MSE: l = d^2, gradient -2 d / |r|
  check_row<kMse, double>("mse one range", {2, 2, 2, 2}, {1, 2, 3, 2}, none, 4, false, 1, 0.5, {-0.5, 0, 0.5, 0});
  check_row<kMse, double>("mse each element a range", {0, 1, 2, 3}, {1, 1, 1, 1}, none, 4, false, 1, 6,
                          {2, 0, -2, -4});
  check_row<kMse, double>("mse length past the row", {1, 2}, {0, 0}, none, -1, true, 1, nan, {nan, nan});
  // Huber: 0.5 d^2 for |d| <= delta (|d| == delta included), else delta (|d| - delta / 2); gradient
  // -clip(d, -delta, delta) / |r|
  check_row<kHuber, double>("huber delta 1", {5, 1, 1, 1, 7}, {4, 1, 3, 0, 7}, none, 5, false, 1, 0.5 + 2.0 / 3,
                            {-1, 0, 1.0 / 3, -1.0 / 3, 0});
  check_row<kHuber, double>("huber delta 0.5", {5, 1, 1, 1, 7}, {4, 1, 3, 0, 7}, none, 5, false, 0.5,
                            0.375 + 1.25 / 3, {-0.5, 0, 0.5 / 3, -0.5 / 3, 0});
  check_row<kHuber, double>("huber mean over ranges", {5, 1, 1, 1, 7}, {4, 1, 3, 0, 7}, none, 5, true, 1,
                            (0.5 + 2.0 / 3) / 3, {-1.0 / 3, 0, 1.0 / 9, -1.0 / 9, 0});
  check_row<kHuber, double>("huber inf target", {1, INFINITY, 2}, {0, 0, 2}, none, 3, false, 1, nan, {-1, -1, 0});
  check_row<kHuber, double>("huber NaN prediction", {1, 1}, {nan, 0}, none, 2, false, 1, nan, {nan, -0.5});
  // Segment ids give the ranges: y_true may vary inside a range, equal y_true may be split
  check_row<kMae, double>("mae segments", {1, 2, 3, 4}, {0, 0, 0, 0}, {7, 7, 9, 9}, 4, false, 1, 5,
                          {-0.5, -0.5, -0.5, -0.5});
  check_row<kMse, double>("mse segments mean", {1, 2, 3, 4}, {0, 0, 0, 0}, {7, 7, 9, 9}, 4, true, 1, 7.5,
                          {-0.5, -1, -1.5, -2});
  check_row<kHuber, double>("huber segments split equal y_true", {1, 1, 1}, {0, 0, 0}, {0, 1, 1}, 3, false, 1, 1,
                            {-1, -0.5, -0.5});
  check_row<kMse, double>("mse segments lengths cut a range", {1, 2, 3, 4}, {0, 0, 0, 0}, {3, 3, 3, 4}, 2, false,
                          1, 2.5, {-1, -2, 0, 0});
  check_row<kMae, double>("segments NaN target", {1, nan, 2}, {0, 0, 0}, {0, 0, 0}, 3, false, 1, nan,
                          {-1.0 / 3, nan, -1.0 / 3});
  check_row<kHuber, float>("huber float32 segments", {0.5f, 2.0f, 0.25f}, {0, 0, 0}, {1, 1, 2}, 3, false, 1,
                           (0.125 + 1.5) / 2 + 0.03125, {-0.25f, -0.5f, -0.25f});
  return finish("range_loss host tests");
}
