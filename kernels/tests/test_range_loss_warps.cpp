// The range_loss CUDA kernels themselves (kernels/range_loss.cu), run on the host by warp_sim,
// against the serial row definition, for each element loss (MAE, MSE, Huber) with ranges from
// y_true and from segment ids (int64 ids differing only above bit 32, independent of y_true's runs):
// random piecewise-constant rows of many lengths (vector and
// scalar loads, tiles cut inside ranges, one-element ranges, one range per row), valid lengths
// (one ending at a tile boundary) and lengths outside [0, L], NaN rows, both range reductions,
// per-row gradient scales, y_true's gradient. Every exported kernel is checked (warp per row;
// block per row: 256 threads up to 1024 elements, 1024 threads up to 4096). Gradients must equal
// the serial ones bit for bit; losses agree within 1e-12 (float64) or 1e-6 (float32: the forward
// kernel subtracts in double); both thread orders must agree bit for bit.
#include "tests/warp_sim.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "range_loss.cu"
#include "tests/expect.h"

namespace {

constexpr long long kTileElems = fastseg::kTile;  // a length ending exactly at a tile boundary

template <class T>
struct Case {
  long long rows, L;
  std::vector<T> t, p;
  std::vector<long long> seg;  // segment ids, runs independent of t's
  std::vector<long long> lengths;
  std::vector<double> row_scale;
};

template <class T>
Case<T> make_case(std::mt19937_64& rng, long long rows, long long L, int max_run) {
  Case<T> c{rows, L, {}, {}, {}, {}, {}};
  std::uniform_int_distribution<int> run(1, max_run), level(0, 3);
  std::normal_distribution<double> noise(0.0, 0.5);
  for (long long r = 0; r < rows; ++r) {
    long long i = 0;
    while (i < L) {
      T v = T(level(rng));
      for (int k = run(rng); k > 0 && i < L; --k, ++i) c.t.push_back(v);
    }
  }
  for (T v : c.t) c.p.push_back(T(v + noise(rng)));
  for (long long r = 0; r < rows; ++r) {
    long long i = 0;
    while (i < L) {
      long long id = 5 + level(rng) * (1LL << 33);
      for (int k = run(rng); k > 0 && i < L; --k, ++i) c.seg.push_back(id);
    }
  }
  for (long long k = 0; k < L && rows > 2; k += 3) c.p[1 * L + k] = T(NAN);  // a NaN row
  std::uniform_int_distribution<long long> len(-1, L + 1);
  for (long long r = 0; r < rows; ++r) {
    long long n = len(rng);
    c.lengths.push_back(r == 0 ? L : r == 2 ? 0 : r == 3 ? std::min<long long>(L, 2 * kTileElems) : n);
    c.row_scale.push_back(0.5 + static_cast<double>(r % 3));
  }
  return c;
}

bool same_bits(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

template <class T>
using Forward = void (*)(const T*, const T*, const long long*, int, const long long*, int, double, T*, long long,
                         long long);
template <class T>
using Fused = void (*)(const T*, const T*, const long long*, int, const long long*, int, double, double,
                       const double*, int, T*, T*, T*, long long, long long);

// A forward and a fused kernel launched alike: a warp per row (128-thread blocks) or a block per
// row, for the row lengths native.py gives it (min_length..max_length).
template <class T>
struct Schedule {
  const char* name;
  int kind;  // the element loss: 0 mae, 1 mse, 2 huber
  Forward<T> forward;
  Fused<T> fused;
  unsigned threads, rows_per_block;
  long long min_length, max_length;
};

template <class T>
double serial(int kind, const long long* seg, const T* t, const T* p, T* g, long long n, long long L, bool mean,
              double scale, double delta) {
  switch (kind) {
    case fastseg::kMae:
      return seg ? fastseg::row_loss_grad_serial<fastseg::kMae>(seg, t, p, g, n, L, mean, scale, delta)
                 : fastseg::row_loss_grad_serial<fastseg::kMae>(t, t, p, g, n, L, mean, scale, delta);
    case fastseg::kMse:
      return seg ? fastseg::row_loss_grad_serial<fastseg::kMse>(seg, t, p, g, n, L, mean, scale, delta)
                 : fastseg::row_loss_grad_serial<fastseg::kMse>(t, t, p, g, n, L, mean, scale, delta);
    default:
      return seg ? fastseg::row_loss_grad_serial<fastseg::kHuber>(seg, t, p, g, n, L, mean, scale, delta)
                 : fastseg::row_loss_grad_serial<fastseg::kHuber>(t, t, p, g, n, L, mean, scale, delta);
  }
}

template <class T>
void check_case(const char* name, const Case<T>& c, bool use_lengths, bool mean, bool use_row_scale,
                bool use_seg, const Schedule<T>& k) {
  const double scale = 0.25, delta = 0.6, loss_tol = sizeof(T) == 8 ? 1e-12 : 1e-6;
  const long long* seg = use_seg ? c.seg.data() : nullptr;
  const unsigned grid = static_cast<unsigned>((c.rows + k.rows_per_block - 1) / k.rows_per_block);
  const unsigned kThreads = k.threads;
  Forward<T> forward = k.forward;
  Fused<T> fused = k.fused;
  std::vector<T> loss_fwd[2], loss_fused[2], grad[2], grad_true[2];
  const bool want_true = use_row_scale;  // y_true's gradient, written in the same pass, in half the cases
  for (int o = 0; o < 2; ++o) {
    auto order = o ? warp_sim::Order::reverse : warp_sim::Order::forward;
    loss_fwd[o].assign(c.rows, T(-7));
    loss_fused[o].assign(c.rows, T(-7));
    grad[o].assign(c.t.size(), T(-7));
    grad_true[o].assign(c.t.size(), T(-7));
    warp_sim::launch(forward, grid, kThreads, order, c.t.data(), c.p.data(), c.lengths.data(),
                     int(use_lengths), seg, int(mean), delta, loss_fwd[o].data(), c.rows, c.L);
    warp_sim::launch(fused, grid, kThreads, order, c.t.data(), c.p.data(), c.lengths.data(),
                     int(use_lengths), seg, int(mean), delta, scale, c.row_scale.data(), int(use_row_scale),
                     loss_fused[o].data(), grad[o].data(), want_true ? grad_true[o].data() : nullptr, c.rows,
                     c.L);
  }
  std::vector<T> want_g(c.L);
  int before = failures;
  for (long long r = 0; r < c.rows && failures - before < 5; ++r) {
    long long n = use_lengths ? c.lengths[r] : c.L;
    double s = scale * (use_row_scale ? c.row_scale[r] : 1.0);
    double want = serial(k.kind, seg ? seg + r * c.L : nullptr, &c.t[r * c.L], &c.p[r * c.L], want_g.data(), n, c.L,
                         mean, s, delta);
    for (int o = 0; o < 2; ++o) {
      for (const std::vector<T>* got : {&loss_fwd[o], &loss_fused[o]}) {
        double g = (*got)[r];
        bool ok = (std::isnan(want) && std::isnan(g)) || std::fabs(g - want) <= loss_tol * (1 + std::fabs(want));
        if (!ok) {
          std::printf("FAIL %s row %lld (n=%lld, %s kernel, %s lanes): loss %.17g want %.17g\n", name, r, n,
                      got == &loss_fwd[o] ? "forward" : "fused", o ? "reversed" : "ordered", g, want);
          ++failures;
        }
      }
      for (long long i = 0; i < c.L && want_true; ++i)
        if (!same_bits(grad_true[o][r * c.L + i], -want_g[i])) {
          std::printf("FAIL %s row %lld (n=%lld): grad_true[%lld] %.9g want %.9g\n", name, r, n, i,
                      double(grad_true[o][r * c.L + i]), -double(want_g[i]));
          ++failures;
          break;
        }
      for (long long i = 0; i < c.L; ++i)
        if (!same_bits(grad[o][r * c.L + i], want_g[i])) {
          std::printf("FAIL %s row %lld (n=%lld, %s lanes): grad[%lld] %.9g want %.9g\n", name, r, n,
                      o ? "reversed" : "ordered", i, double(grad[o][r * c.L + i]), double(want_g[i]));
          ++failures;
          break;
        }
    }
    if (!same_bits(loss_fwd[0][r], loss_fwd[1][r]) || !same_bits(loss_fused[0][r], loss_fused[1][r])) {
      std::printf("FAIL %s row %lld: lane order changed the loss\n", name, r);
      ++failures;
    }
  }
}

template <class T>
void run_all(const char* dtype, const std::vector<Schedule<T>>& schedules) {
  std::mt19937_64 rng(20261127);
  // (rows, L, longest run): L = 1, a lane's 4 elements, a tile (128) and either side of one,
  // several tiles, odd lengths (misaligned rows: scalar loads), one range per row, a row of a
  // 256-thread block and one past it, a row of a 1024-thread block
  const long long shapes[][3] = {{5, 1, 1},    {6, 4, 2},     {3, 127, 1},  {7, 128, 40},
                                 {5, 129, 3},  {9, 300, 300}, {4, 515, 9},  {3, 1000, 120},
                                 {2, 1024, 1}, {3, 777, 777}, {2, 1025, 50}, {2, 4096, 900}};
  for (const auto& s : shapes) {
    Case<T> c = make_case<T>(rng, s[0], s[1], static_cast<int>(s[2]));
    char name[128];
    for (const Schedule<T>& k : schedules) {
      if (s[1] < k.min_length || s[1] > k.max_length) continue;
      for (int variant = 0; variant < 16; ++variant) {
        bool lengths = variant & 1, mean = variant & 2, row_scale = variant & 4, seg = variant & 8;
        std::snprintf(name, sizeof name, "%s %s %lldx%lld runs<=%lld%s%s%s%s", dtype, k.name, s[0], s[1], s[2],
                      lengths ? " lengths" : "", mean ? " mean" : "", row_scale ? " row_scale" : "",
                      seg ? " segments" : "");
        check_case(name, c, lengths, mean, row_scale, seg, k);
      }
    }
  }
}

}  // namespace

// The nine schedules of one dtype: (warp per row, block256, block1024) x (mae, mse, huber).
#define SCHEDULES(S)                                                                                          \
  {{"fused mae", 0, range_loss_forward_mae_##S, range_loss_fused_mae_##S, 128, 4, 0, any},                   \
   {"block256 mae", 0, range_loss_forward_block256_mae_##S, range_loss_fused_block256_mae_##S, 256, 1, 0, 1024}, \
   {"block1024 mae", 0, range_loss_forward_block1024_mae_##S, range_loss_fused_block1024_mae_##S, 1024, 1, 1025, \
    4096},                                                                                                    \
   {"fused mse", 1, range_loss_forward_mse_##S, range_loss_fused_mse_##S, 128, 4, 0, any},                   \
   {"block256 mse", 1, range_loss_forward_block256_mse_##S, range_loss_fused_block256_mse_##S, 256, 1, 0, 1024}, \
   {"block1024 mse", 1, range_loss_forward_block1024_mse_##S, range_loss_fused_block1024_mse_##S, 1024, 1, 1025, \
    4096},                                                                                                    \
   {"fused huber", 2, range_loss_forward_huber_##S, range_loss_fused_huber_##S, 128, 4, 0, any},             \
   {"block256 huber", 2, range_loss_forward_block256_huber_##S, range_loss_fused_block256_huber_##S, 256, 1, 0, \
    1024},                                                                                                    \
   {"block1024 huber", 2, range_loss_forward_block1024_huber_##S, range_loss_fused_block1024_huber_##S, 1024, 1, \
    1025, 4096}}

int main() {
  const long long any = 1LL << 40;
  run_all<float>("float32", SCHEDULES(f32));
  run_all<double>("float64", SCHEDULES(f64));
  return finish("range_loss kernels under warp_sim");
}
