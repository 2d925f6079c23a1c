// Host test of cross_entropy's per-row logic (kernels/cross_entropy_row.cuh): a hand-computed
// row, label smoothing against the direct formula, ignore_index, a bad label, huge logits.
#include <cmath>
#include <cstdio>
#include <vector>

#include "cross_entropy_row.cuh"
#include "tests/expect.h"

int main() {
  std::vector<double> x = {2.0, 0.0, -1.0}, g(3);
  double z = std::exp(2.0) + 1.0 + std::exp(-1.0);
  double loss = fastseg::class_row_serial(x.data(), 3, 0, nullptr, 0.0, -100, 1.0, g.data());
  expect_near(loss, std::log(z) - 2.0, "loss");
  expect_near(g[0], std::exp(2.0) / z - 1.0, "grad at the label");
  expect_near(g[1], 1.0 / z, "grad elsewhere");
  // label smoothing 0.3 with weights: -sum_c q_c log p_c computed directly
  std::vector<double> w = {0.5, 2.0, 1.0};
  double eps = 0.3, direct = 0.0;
  for (int c = 0; c < 3; ++c) {
    double q = eps / 3 * w[c] + (c == 1 ? (1 - eps) * w[1] : 0.0);
    direct -= q * (x[c] - std::log(z));
  }
  expect_near(fastseg::class_row_serial(x.data(), 3, 1, w.data(), eps, -100, 1.0, g.data()), direct, "smoothing");
  expect_near(fastseg::class_row_serial(x.data(), 3, -100, nullptr, 0.0, -100, 1.0, g.data()), 0.0, "ignored");
  expect_near(g[2], 0.0, "ignored grad");
  expect_near(fastseg::class_row_serial(x.data(), 3, 3, nullptr, 0.0, -100, 1.0, g.data()), std::nan(""), "bad label");
  std::vector<double> big = {1e4, 0.0, -1e4};
  expect_near(fastseg::class_row_serial(big.data(), 3, 0, nullptr, 0.0, -100, 1.0, g.data()),
              std::log1p(std::exp(-1e4) + std::exp(-2e4)), "huge logits");
  // the seed's fifth thread: from_logits=False normalises then clips, so the gradient of
  // -log(p_0 / sum p) is -1/p_0 + 1/sum(p): [-0.25, 1, 1] for p = (0.8, 0.1, 0.1)
  std::vector<double> onehot = {1, 0, 0}, probs = {0.8, 0.1, 0.1}, probs2 = {0.5, 0.1, 0.1};
  expect_near(fastseg::keras_row_serial(onehot.data(), probs.data(), 3, 0.0, 1.0, g.data()), -std::log(0.8), "keras loss");
  expect_near(g[0], -0.25, "keras grad 0");
  expect_near(g[1], 1.0, "keras grad 1");
  fastseg::keras_row_serial(onehot.data(), probs2.data(), 3, 0.0, 1.0, g.data());
  expect_near(g[0], -1 / 0.5 + 1 / 0.7, "keras grad, row sum 0.7");
  expect_near(g[2], 1 / 0.7, "keras grad elsewhere, row sum 0.7");
  // probability targets equal to a one-hot class target give the class-target row
  std::vector<double> target = {0, 1, 0}, g2(3);
  expect_near(fastseg::prob_row_serial(x.data(), target.data(), 3, w.data(), eps, 1.0, g2.data()),
              fastseg::class_row_serial(x.data(), 3, 1, w.data(), eps, -100, 1.0, g.data()),
              "one-hot probabilities");
  for (int c = 0; c < 3; ++c) expect_near(g2[c], g[c], "one-hot probabilities, gradient");
  return finish("cross_entropy host tests");
}
