// range_loss CUDA kernels (MAE, MSE, Huber; ranges are maximal runs of equal consecutive keys, the
// keys being y_true or, when `seg` is not null, int64 segment ids): one warp per row, tiles of 32
// lanes x 4 consecutive elements (16-byte loads where aligned), a scan inside each lane, then one
// warp-shuffle scan of lane aggregates. The element loss is a template parameter (kKind: one
// source for the three losses, chosen at compile time, no divergence), and so is the keys' type
// (K): each entry point dispatches once on `seg`, to keys that are y_true's own values (K = T: no
// extra load) or to a vector of segment ids loaded alongside (K = long long, 16-byte loads).
//
// forward: a segmented reduction of (sum l(t - p), count) restarting at range starts; complete
//   ranges add sum / count; the open range is carried across lanes and tiles.
// fused:   pass 1 (left to right, keys only) finds the range start entering each tile and the
//   number of ranges with two warp reductions per tile; pass 2 (right to left) rebuilds each
//   element's range start (prefix max) and end (suffix min), adds l(t - p) / |r| and writes the
//   gradient -l'(t - p) / |r|. Tile carries are parked in g (exact for L < 2^24 in float32). Each
//   pass loads a batch of tiles before it processes any (more bytes in flight per warp: the
//   single-tile schedule was latency-bound), and pass 2 reads and writes with cache-streaming
//   hints, so that the key lines pass 1 brought into L2 are the ones that stay there.
// block:   rows up to 4096 elements in one block (block_row): every thread holds 4 elements, read
//   once; block-wide scans give each element its range, one pass writes loss and gradient.
// Exported: range_loss_{forward,fused}[_block256|_block1024]_{mae,mse,huber}_{f32,f64}.
// Deterministic: fixed shuffle trees, no atomics. Loaded by fastseg/ops/range_loss/native.py.
#include "range_loss_row.cuh"
#include "reduce.cuh"

namespace fastseg {

constexpr int kVec = 4;              // consecutive elements per lane
constexpr int kTile = 32 * kVec;     // elements per warp step

// The row's valid length as an int (L < 2^31 is checked by the loader), or -1 when the given
// length lies outside [0, L] (the row then gets a NaN loss).
__device__ __forceinline__ int row_length(const long long* lengths, int has_lengths,
                                          long long row, long long L) {
  long long n = has_lengths ? lengths[row] : L;
  return (n < 0 || n > L) ? -1 : static_cast<int>(n);
}

// v[k] = a[i0 + k] for i0 + k < n, else fill; one or two 16-byte loads when aligned and full.
// kStream marks the last read of the data (cache-streaming: evict first from L2), so that the
// lines pass 1 read stay cached for pass 2.
template <class T, bool kStream = false>
__device__ __forceinline__ void load_vec(const T* __restrict__ a, int i0, int n, T (&v)[kVec], T fill) {
  const T* src = a + i0;
  if (i0 + kVec <= n && (reinterpret_cast<unsigned long long>(src) & 15) == 0) {
    const int4* s4 = reinterpret_cast<const int4*>(src);
    int4* d4 = reinterpret_cast<int4*>(v);
#pragma unroll
    for (int q = 0; q < int(kVec * sizeof(T) / 16); ++q) d4[q] = kStream ? __ldcs(s4 + q) : s4[q];
  } else {
#pragma unroll
    for (int k = 0; k < kVec; ++k) v[k] = i0 + k < n ? (kStream ? __ldcs(src + k) : src[k]) : fill;
  }
}

// A lane's keys: y_true's own values when the ranges come from y_true (key == t: a register copy,
// no load) ...
template <bool kStream, class T>
__device__ __forceinline__ void load_keys(const T* __restrict__, int, int, const T (&tv)[kVec],
                                          T (&kv)[kVec]) {
#pragma unroll
  for (int k = 0; k < kVec; ++k) kv[k] = tv[k];
}

// ... or the segment ids (one or two 16-byte loads).
template <bool kStream, class T>
__device__ __forceinline__ void load_keys(const long long* __restrict__ seg, int i0, int n, const T (&)[kVec],
                                          long long (&kv)[kVec]) {
  load_vec<long long, kStream>(seg, i0, n, kv, 0LL);
}

// a[i0 + k] = v[k] for i0 + k < n, with cache-streaming stores (the data is not read again).
template <class T>
__device__ __forceinline__ void store_vec(T* a, int i0, int n, const T (&v)[kVec]) {
  T* dst = a + i0;
  if (i0 + kVec <= n && (reinterpret_cast<unsigned long long>(dst) & 15) == 0) {
    const int4* s4 = reinterpret_cast<const int4*>(v);
    int4* d4 = reinterpret_cast<int4*>(dst);
#pragma unroll
    for (int q = 0; q < int(kVec * sizeof(T) / 16); ++q) __stcs(d4 + q, s4[q]);
  } else {
#pragma unroll
    for (int k = 0; k < kVec; ++k)
      if (i0 + k < n) __stcs(dst + k, v[k]);
  }
}

// g[i0 + k] = gv[k] and, when gt is not null, gt[i0 + k] = -gv[k] (y_true's gradient, same pass).
template <class T>
__device__ __forceinline__ void store_grads(T* g, T* gt, int i0, int n, const T (&gv)[kVec]) {
  store_vec(g, i0, n, gv);
  if (gt) {
    T neg[kVec];
#pragma unroll
    for (int k = 0; k < kVec; ++k) neg[k] = -gv[k];
    store_vec(gt, i0, n, neg);
  }
}

// g[i] = gt[i] = v for i in [from, L) striding by `step` (NaN rows, zeros past a row's length).
template <class T>
__device__ __forceinline__ void fill_grads(T* g, T* gt, long long from, long long L, int step, T v) {
  for (long long i = from; i < L; i += step) {
    g[i] = v;
    if (gt) gt[i] = v;
  }
}

// Heads (range starts) among a lane's elements i0..i0+kVec-1; `before` is key[i0 - 1].
template <class K>
__device__ __forceinline__ void heads_of(const K (&kv)[kVec], K before, int i0, int n, bool (&head)[kVec]) {
#pragma unroll
  for (int k = 0; k < kVec; ++k)
    head[k] = i0 + k < n && (i0 + k == 0 || kv[k] != (k ? kv[k - 1] : before));
}

// start[k]: the last range start at or before the lane's element k within the lane (-1: before
// the lane); `last` the lane's last start, `heads` how many start in it. `before` is key[i0 - 1].
template <class K>
__device__ __forceinline__ void lane_starts(const K (&kv)[kVec], K before, int i0, int n,
                                            int (&start)[kVec], int& last, int& heads) {
  bool head[kVec];
  heads_of(kv, before, i0, n, head);
  last = -1;
  heads = 0;
#pragma unroll
  for (int k = 0; k < kVec; ++k) {
    if (head[k]) {
      last = i0 + k;
      ++heads;
    }
    start[k] = last;
  }
}

// end[k]: the first range start after element k within the lane (n: after the lane); `first` the
// lane's first such end. `after` is key[i0 + kVec].
template <class K>
__device__ __forceinline__ void lane_ends(const K (&kv)[kVec], K after, int i0, int n, int (&end)[kVec],
                                          int& first) {
  first = n;
#pragma unroll
  for (int k = kVec - 1; k >= 0; --k) {
    int next = i0 + k + 1;
    if (next < n && (k + 1 < kVec ? kv[k + 1] : after) != kv[k]) first = next;
    end[k] = first;
  }
}

// The loss of the lane's valid elements, sum l(t - p) / |range|, and their gradient into gv (0 past
// n), given the start of the range entering the lane and the end of the range leaving it.
template <int kKind, class T>
__device__ __forceinline__ double lane_loss_grad(const T (&tv)[kVec], const T (&pv)[kVec],
                                                 const int (&start)[kVec], const int (&end)[kVec],
                                                 int entering, int leaving, int i0, int n, double scale,
                                                 double delta, T (&gv)[kVec]) {
  double loss = 0.0;
#pragma unroll
  for (int k = 0; k < kVec; ++k) {
    gv[k] = T(0);
    if (i0 + k < n) {
      int s0 = start[k] > entering ? start[k] : entering;
      int e = end[k] < leaving ? end[k] : leaving;
      double w = 1.0 / static_cast<double>(e - s0);
      T d = tv[k] - pv[k];
      loss += element_loss<kKind>(static_cast<double>(d), delta) * w;
      gv[k] = element_grad<kKind>(d, T(scale * w), delta);
    }
  }
  return loss;
}

template <int kKind, class T, class K>
__device__ void forward_row(const K* key, const T* t, const T* p, int n, long long L, bool mean, double delta,
                            T* out_loss, int lane) {
  if (n < 0 || n > L) {
    if (lane == 0) *out_loss = T(quiet_nan());
    return;
  }
  // Segmented reduction: each lane reduces its elements into (sum, count) of the range open at
  // its start (closed by its first head), complete inner ranges, and the range open at its end;
  // a segmented warp scan carries open ranges across lanes and tiles.
  double loss = 0.0, carry_a = 0.0;
  int carry_c = 0, n_ranges = 0;
  for (int base = 0; base < n; base += kTile) {
    int i0 = base + lane * kVec;
    __align__(16) T tv[kVec];
    __align__(16) T pv[kVec];
    __align__(16) K kv[kVec];
    load_vec(t, i0, n, tv, T(0));
    load_vec(p, i0, n, pv, T(0));
    load_keys<false>(key, i0, n, tv, kv);
    K before = (i0 > 0 && i0 <= n) ? key[i0 - 1] : kv[0];
    bool head[kVec];
    heads_of(kv, before, i0, n, head);
    double lead_a = 0.0, a = 0.0;
    int lead_c = 0, c = 0, heads = 0;
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      if (head[k]) {
        if (heads == 0) {
          lead_a = a;
          lead_c = c;
        } else if (c > 0) {
          loss += a / c;  // an inner range, complete within the lane
        }
        a = 0.0;
        c = 0;
        ++heads;
      }
      if (i0 + k < n) {
        a += element_loss<kKind>(static_cast<double>(tv[k]) - static_cast<double>(pv[k]), delta);
        ++c;
      }
    }
    if (heads == 0) {  // the whole lane continues the open range
      lead_a = a;
      lead_c = c;
    }
    // lane aggregate: the range open at the lane's end, and whether it started in this lane
    double agg_a = a;
    int agg_c = c, agg_f = heads > 0;
    if (lane == 0 && !agg_f) {
      agg_a += carry_a;
      agg_c += carry_c;
    }
    for (int off = 1; off < 32; off <<= 1) {
      double oa = __shfl_up_sync(kFullMask, agg_a, off);
      int oc = __shfl_up_sync(kFullMask, agg_c, off);
      int of = __shfl_up_sync(kFullMask, agg_f, off);
      if (lane >= off && !agg_f) {
        agg_a += oa;
        agg_c += oc;
        agg_f = of;
      }
    }
    double in_a = __shfl_up_sync(kFullMask, agg_a, 1);
    int in_c = __shfl_up_sync(kFullMask, agg_c, 1);
    if (lane == 0) {
      in_a = carry_a;
      in_c = carry_c;
    }
    if (heads > 0 && in_c + lead_c > 0) loss += (in_a + lead_a) / (in_c + lead_c);
    carry_a = __shfl_sync(kFullMask, agg_a, 31);
    carry_c = __shfl_sync(kFullMask, agg_c, 31);
    n_ranges += __reduce_add_sync(kFullMask, heads);
  }
  if (lane == 0 && carry_c > 0) loss += carry_a / carry_c;  // the range open at the row's end
  loss = warp_sum(loss);
  if (lane == 0) *out_loss = T(finish_loss(loss, n_ranges, mean));
}

// Prefix max over the warp of per-lane values, seeded with `carry` (the value entering lane 0):
// returns, for each lane, the max over earlier lanes and the carry (exclusive scan).
__device__ __forceinline__ int exclusive_max(int v, int carry, int lane) {
  for (int off = 1; off < 32; off <<= 1) {
    int o = __shfl_up_sync(kFullMask, v, off);
    if (lane >= off && o > v) v = o;
  }
  int excl = __shfl_up_sync(kFullMask, v, 1);
  return (lane == 0 || excl < carry) ? carry : excl;
}

// One lane's share of a warp tile for pass 2: its kVec elements of t, p and the keys (t's own
// registers when K = T), the keys either side, and the start of the range entering the tile
// (parked in g by pass 1).
template <class T, class K>
struct Tile {
  __align__(16) T t[kVec];
  __align__(16) T p[kVec];
  __align__(16) K k[kVec];
  K before, after;
  int entering;
};

template <class T, class K>
__device__ __forceinline__ void load_tile(const K* __restrict__ key, const T* __restrict__ t,
                                          const T* __restrict__ p, const T* g, int base, int n, int lane,
                                          Tile<T, K>& x) {
  int i0 = base + lane * kVec;
  load_vec<T, true>(t, i0, n, x.t, T(0));
  load_vec<T, true>(p, i0, n, x.p, T(0));
  load_keys<true>(key, i0, n, x.t, x.k);
  x.before = (i0 > 0 && i0 <= n) ? key[i0 - 1] : x.k[0];
  x.after = i0 + kVec < n ? key[i0 + kVec] : x.k[kVec - 1];
  x.entering = static_cast<int>(g[base]);
}

// kBatch1 / kBatch2 tiles are loaded before any is processed, in pass 1 / pass 2: the loads of a
// batch are independent, so a warp keeps that many tiles of memory traffic in flight.
template <int kKind, int kBatch1, int kBatch2, class T, class K>
__device__ void fused_row(const K* __restrict__ key, const T* __restrict__ t, const T* __restrict__ p,
                          T* __restrict__ g, T* __restrict__ gt, int n, long long L, bool mean, double scale,
                          double delta, T* out_loss, int lane) {
  if (n < 0 || n > L) {
    fill_grads(g, gt, lane, L, 32, T(quiet_nan()));
    if (lane == 0) *out_loss = T(quiet_nan());
    return;
  }
  fill_grads(g, gt, n + lane, L, 32, T(0));

  // pass 1, left to right, reading the keys only: the start of the range open at each tile's
  // first element (parked in g at that element until pass 2 reads it) and the number of ranges
  int carry_start = 0, n_ranges = 0;
  for (int batch = 0; batch < n; batch += kBatch1 * kTile) {
    __align__(16) K kv[kBatch1][kVec];
    K before[kBatch1];
#pragma unroll
    for (int b = 0; b < kBatch1; ++b) {
      int i0 = batch + b * kTile + lane * kVec;
      load_vec<K, false>(key, i0, n, kv[b], K(0));
      before[b] = (i0 > 0 && i0 <= n) ? key[i0 - 1] : kv[b][0];
    }
#pragma unroll
    for (int b = 0; b < kBatch1; ++b) {
      int base = batch + b * kTile, i0 = base + lane * kVec;
      if (base >= n) break;
      if (lane == 0) g[base] = T(carry_start);
      int start[kVec], last, heads;
      lane_starts(kv[b], before[b], i0, n, start, last, heads);
      int tile_last = __reduce_max_sync(kFullMask, last);
      if (tile_last > carry_start) carry_start = tile_last;
      n_ranges += __reduce_add_sync(kFullMask, heads);
    }
  }
  __syncwarp();
  if (mean && n_ranges > 0) scale /= static_cast<double>(n_ranges);

  // pass 2, right to left: each element's range start (prefix max from the tile's carry) and
  // end (suffix min of "the next element starts a range"), then the loss and the gradient
  double loss = 0.0;
  int carry_end = n;
  for (int top = ((n + kTile - 1) / kTile - 1) * kTile; top >= 0; top -= kBatch2 * kTile) {
    Tile<T, K> tiles[kBatch2];
#pragma unroll
    for (int b = 0; b < kBatch2; ++b)
      if (top - b * kTile >= 0) load_tile(key, t, p, g, top - b * kTile, n, lane, tiles[b]);
    __syncwarp();  // every lane has read the batch's parked carries before they are overwritten
#pragma unroll
    for (int b = 0; b < kBatch2; ++b) {
      int base = top - b * kTile, i0 = base + lane * kVec;
      if (base < 0) break;
      const Tile<T, K>& x = tiles[b];
      int start[kVec], end[kVec], last, first, heads;
      lane_starts(x.k, x.before, i0, n, start, last, heads);
      lane_ends(x.k, x.after, i0, n, end, first);
      int entering = exclusive_max(last, x.entering, lane);
      int incl = first;
      for (int off = 1; off < 32; off <<= 1) {
        int o = __shfl_down_sync(kFullMask, incl, off);
        if (lane + off < 32 && o < incl) incl = o;
      }
      int leaving = __shfl_down_sync(kFullMask, incl, 1);
      if (lane == 31 || carry_end < leaving) leaving = carry_end;
      __align__(16) T gv[kVec];
      loss += lane_loss_grad<kKind>(x.t, x.p, start, end, entering, leaving, i0, n, scale, delta, gv);
      store_grads(g, gt, i0, n, gv);
      int tile_min = __shfl_sync(kFullMask, incl, 0);
      if (tile_min < carry_end) carry_end = tile_min;
    }
  }
  loss = warp_sum(loss);
  if (lane == 0) *out_loss = T(finish_loss(loss, n_ranges, mean));
}

// A whole row in one block of kThreads threads (rows up to kThreads * kVec elements): thread r
// holds elements [r * kVec, (r + 1) * kVec), read once. Each element's range start is a prefix
// max of range starts, its end a suffix min of range ends (warp shuffles, then the warps'
// aggregates through shared memory); the number of ranges is counted alongside. Then the loss and
// (when g is not null) the gradient, in one pass: no tile carries, no second read of the row.
template <int kKind, int kThreads, class T, class K>
__device__ void block_row(const K* __restrict__ key, const T* __restrict__ t, const T* __restrict__ p,
                          T* __restrict__ g, T* __restrict__ gt, int n, long long L, bool mean, double scale,
                          double delta, T* out_loss, const BlockRow<kThreads>& grp) {
  constexpr int kWarps = kThreads / 32;
  const int rank = grp.rank, lane = rank % 32, warp = rank / 32;
  if (n < 0 || n > L) {
    if (g) fill_grads(g, gt, rank, L, kThreads, T(quiet_nan()));
    if (rank == 0) *out_loss = T(quiet_nan());
    return;
  }
  const int i0 = rank * kVec;
  __align__(16) T tv[kVec];
  __align__(16) T pv[kVec];
  __align__(16) K kv[kVec];
  load_vec<T, true>(t, i0, n, tv, T(0));
  load_vec<T, true>(p, i0, n, pv, T(0));
  load_keys<true>(key, i0, n, tv, kv);
  K before = (i0 > 0 && i0 <= n) ? key[i0 - 1] : kv[0];
  K after = i0 + kVec < n ? key[i0 + kVec] : kv[kVec - 1];
  int start[kVec], end[kVec], last, first, heads;
  lane_starts(kv, before, i0, n, start, last, heads);
  lane_ends(kv, after, i0, n, end, first);
  // inclusive scans inside the warp: max of starts from the left, min of ends from the right
  int pre = last, suf = first;
  for (int off = 1; off < 32; off <<= 1) {
    int o = __shfl_up_sync(kFullMask, pre, off);
    if (lane >= off && o > pre) pre = o;
    o = __shfl_down_sync(kFullMask, suf, off);
    if (lane + off < 32 && o < suf) suf = o;
  }
  int warp_heads = __reduce_add_sync(kFullMask, heads);
  __shared__ int warp_max_start[kWarps], warp_min_end[kWarps], warp_count[kWarps];
  if (lane == 31) warp_max_start[warp] = pre;
  if (lane == 0) {
    warp_min_end[warp] = suf;
    warp_count[warp] = warp_heads;
  }
  int entering = __shfl_up_sync(kFullMask, pre, 1);
  int leaving = __shfl_down_sync(kFullMask, suf, 1);
  if (lane == 0) entering = -1;
  if (lane == 31) leaving = n;
  __syncthreads();
  int n_ranges = 0;
  for (int w = 0; w < kWarps; ++w) {
    if (w < warp && warp_max_start[w] > entering) entering = warp_max_start[w];
    if (w > warp && warp_min_end[w] < leaving) leaving = warp_min_end[w];
    n_ranges += warp_count[w];
  }
  if (mean && n_ranges > 0) scale /= static_cast<double>(n_ranges);
  __align__(16) T gv[kVec];
  double loss = lane_loss_grad<kKind>(tv, pv, start, end, entering, leaving, i0, n, scale, delta, gv);
  if (g) {
    store_grads(g, gt, i0, n, gv);
    fill_grads(g, gt, n + rank, L, kThreads, T(0));
  }
  loss = grp.sum(loss);
  if (rank == 0) *out_loss = T(finish_loss(loss, n_ranges, mean));
}

// The entry points' bodies: the row's pointers, valid length and gradient scale, and the one
// dispatch on `seg` (null: the ranges come from y_true).
template <int kKind, class T>
__device__ __forceinline__ void forward_warp(const T* t, const T* p, const long long* lengths, int has_lengths,
                                             const long long* seg, int mean, double delta, T* out_loss,
                                             long long rows, long long L) {
  long long row = WarpRow::row();
  if (row >= rows) return;
  const int n = row_length(lengths, has_lengths, row, L), lane = WarpRow::here().rank;
  t += row * L;
  p += row * L;
  if (seg)
    forward_row<kKind>(seg + row * L, t, p, n, L, mean != 0, delta, out_loss + row, lane);
  else
    forward_row<kKind>(t, t, p, n, L, mean != 0, delta, out_loss + row, lane);
}

template <int kKind, class T>
__device__ __forceinline__ void fused_warp(const T* t, const T* p, const long long* lengths, int has_lengths,
                                           const long long* seg, int mean, double delta, double scale,
                                           const double* row_scale, int has_row_scale, T* out_loss,
                                           T* out_grad, T* out_grad_true, long long rows, long long L) {
  constexpr int kBatch1 = 4, kBatch2 = 2;
  long long row = WarpRow::row();
  if (row >= rows) return;
  const int n = row_length(lengths, has_lengths, row, L), lane = WarpRow::here().rank;
  t += row * L;
  p += row * L;
  T* g = out_grad + row * L;
  T* gt = out_grad_true ? out_grad_true + row * L : nullptr;
  scale *= has_row_scale ? row_scale[row] : 1.0;
  if (seg)
    fused_row<kKind, kBatch1, kBatch2>(seg + row * L, t, p, g, gt, n, L, mean != 0, scale, delta,
                                       out_loss + row, lane);
  else
    fused_row<kKind, kBatch1, kBatch2>(t, t, p, g, gt, n, L, mean != 0, scale, delta, out_loss + row, lane);
}

// out_grad null: the forward kernel (loss only).
template <int kKind, int kThreads, class T>
__device__ __forceinline__ void block_entry(const T* t, const T* p, const long long* lengths, int has_lengths,
                                            const long long* seg, int mean, double delta, double scale,
                                            const double* row_scale, int has_row_scale, T* out_loss,
                                            T* out_grad, T* out_grad_true, long long rows, long long L) {
  long long row = BlockRow<kThreads>::row();
  if (row >= rows) return;
  const int n = row_length(lengths, has_lengths, row, L);
  t += row * L;
  p += row * L;
  T* g = out_grad ? out_grad + row * L : nullptr;
  T* gt = out_grad_true ? out_grad_true + row * L : nullptr;
  scale *= has_row_scale ? row_scale[row] : 1.0;
  if (seg)
    block_row<kKind, kThreads>(seg + row * L, t, p, g, gt, n, L, mean != 0, scale, delta, out_loss + row,
                               BlockRow<kThreads>::here());
  else
    block_row<kKind, kThreads>(t, t, p, g, gt, n, L, mean != 0, scale, delta, out_loss + row,
                               BlockRow<kThreads>::here());
}

}  // namespace fastseg

// The kernels' parameters: forward (loss only) and fused (loss and gradients). `seg` (segment ids,
// int64, the row layout of y_pred) and `out_grad_true` (y_true's gradient) may be null.
#define FASTSEG_RANGE_LOSS_FORWARD_PARAMS(T)                                                   \
  const T *t, const T *p, const long long *lengths, int has_lengths, const long long *seg,     \
      int mean, double delta, T *out_loss, long long rows, long long L
#define FASTSEG_RANGE_LOSS_FUSED_PARAMS(T)                                                     \
  const T *t, const T *p, const long long *lengths, int has_lengths, const long long *seg,     \
      int mean, double delta, double scale, const double *row_scale, int has_row_scale,        \
      T *out_loss, T *out_grad, T *out_grad_true, long long rows, long long L

// range_loss_{forward,fused}_<loss>_<f32|f64>: a warp per row (rows longer than the block kernels
// take). range_loss_{forward,fused}_block<THREADS>_<loss>_<f32|f64>: a block of THREADS threads per
// row, for rows of at most THREADS * 4 elements (fastseg/ops/range_loss/native.py picks by length).
#define FASTSEG_RANGE_LOSS_BLOCK(T, SUFFIX, KIND, LOSS, THREADS)                               \
  extern "C" __global__ void __launch_bounds__(THREADS)                                        \
      range_loss_forward_block##THREADS##_##LOSS##_##SUFFIX(FASTSEG_RANGE_LOSS_FORWARD_PARAMS(T)) { \
    fastseg::block_entry<KIND, THREADS, T>(t, p, lengths, has_lengths, seg, mean, delta, 1.0,  \
                                           nullptr, 0, out_loss, nullptr, nullptr, rows, L);   \
  }                                                                                            \
  extern "C" __global__ void __launch_bounds__(THREADS)                                        \
      range_loss_fused_block##THREADS##_##LOSS##_##SUFFIX(FASTSEG_RANGE_LOSS_FUSED_PARAMS(T)) { \
    fastseg::block_entry<KIND, THREADS, T>(t, p, lengths, has_lengths, seg, mean, delta, scale, \
                                           row_scale, has_row_scale, out_loss, out_grad,       \
                                           out_grad_true, rows, L);                            \
  }

#define FASTSEG_RANGE_LOSS_KERNELS(T, SUFFIX, KIND, LOSS)                                      \
  extern "C" __global__ void range_loss_forward_##LOSS##_##SUFFIX(                             \
      FASTSEG_RANGE_LOSS_FORWARD_PARAMS(T)) {                                                  \
    fastseg::forward_warp<KIND, T>(t, p, lengths, has_lengths, seg, mean, delta, out_loss, rows, L); \
  }                                                                                            \
  extern "C" __global__ void range_loss_fused_##LOSS##_##SUFFIX(FASTSEG_RANGE_LOSS_FUSED_PARAMS(T)) { \
    fastseg::fused_warp<KIND, T>(t, p, lengths, has_lengths, seg, mean, delta, scale, row_scale, \
                                 has_row_scale, out_loss, out_grad, out_grad_true, rows, L);   \
  }                                                                                            \
  FASTSEG_RANGE_LOSS_BLOCK(T, SUFFIX, KIND, LOSS, 256)                                         \
  FASTSEG_RANGE_LOSS_BLOCK(T, SUFFIX, KIND, LOSS, 1024)

#define FASTSEG_RANGE_LOSS_ALL(KIND, LOSS)                                                     \
  FASTSEG_RANGE_LOSS_KERNELS(float, f32, KIND, LOSS)                                           \
  FASTSEG_RANGE_LOSS_KERNELS(double, f64, KIND, LOSS)

FASTSEG_RANGE_LOSS_ALL(0, mae)
FASTSEG_RANGE_LOSS_ALL(1, mse)
FASTSEG_RANGE_LOSS_ALL(2, huber)
