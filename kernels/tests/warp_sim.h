// A host stand-in for CUDA warps, so that ctest runs the native kernels themselves (their warp
// schedules, index math and early exits), not only their serial row logic, on a machine with no
// GPU. Include it before a kernels/<op>.cu file, then call warp_sim::launch(kernel, grid, block,
// args...).
//
// Each lane is a ucontext fiber on one OS thread. Lanes run one after another up to their next
// warp intrinsic (__shfl*_sync, __reduce_*_sync, __syncwarp); when every lane of the warp has
// arrived, the values are exchanged and the lanes run on. So the results are deterministic, and
// a warp whose lanes reach different intrinsics, or whose lanes finish while others wait at one
// (divergent code calling a full-mask intrinsic), is reported as an error. Lanes run in order
// 0..31 or 31..0 (`Order`): a lane that reads, without an intrinsic in between, what another lane
// writes, reads a different value in the two orders, which the tests compare.
//
// Only full masks (0xffffffff) and width 32 are emulated: the kernels use nothing else. Warps run
// one at a time, so kernels must not synchronise across warps (ours don't: no __syncthreads).
// Compile with -Wno-unknown-pragmas (a host compiler ignores "#pragma unroll") and
// -fno-strict-aliasing (the kernels' 16-byte loads read float arrays through int4).
#pragma once
#include <ucontext.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#define __align__(n) alignas(n)

struct alignas(16) int4 {
  int x, y, z, w;
};

struct dim3 {
  unsigned x = 0, y = 0, z = 0;
};

inline dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace warp_sim {

constexpr int kLanes = 32;
constexpr unsigned kFullMask = 0xffffffffu;

enum class Order { forward, reverse };

enum class Op { shfl, shfl_up, shfl_down, shfl_xor, reduce_add, reduce_max, syncwarp, done };

inline const char* op_name(Op op) {
  static const char* names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
                                "__shfl_xor_sync", "__reduce_add_sync", "__reduce_max_sync",
                                "__syncwarp", "the kernel's end"};
  return names[static_cast<int>(op)];
}

[[noreturn]] inline void fail(const char* what, int lane, Op op) {
  std::fprintf(stderr, "warp_sim: block %u thread %u: %s (%s)\n", blockIdx.x,
               threadIdx.x - threadIdx.x % kLanes + static_cast<unsigned>(lane), what, op_name(op));
  std::exit(2);
}

struct Lane {
  ucontext_t context;
  std::vector<char> stack;
  Op op = Op::done;
  unsigned long long value = 0;  // the bits this lane contributes at its current intrinsic
  int arg = 0;
};

struct Warp {
  ucontext_t scheduler;
  Lane lanes[kLanes];
  unsigned long long arrived[kLanes];  // every lane's bits at the last exchange
  int current = 0;
  unsigned first_thread = 0;
  std::function<void()> body;
};

inline Warp* active = nullptr;

inline void lane_entry() {
  active->body();
  active->lanes[active->current].op = Op::done;
}  // returns to the scheduler through uc_link

// Runs `body` as the 32 lanes of one warp whose first thread in the block is `first_thread`.
inline void run_warp(std::function<void()> body, unsigned first_thread, Order order) {
  static Warp warp;  // one set of lane stacks, reused by every warp
  warp.body = std::move(body);
  warp.first_thread = first_thread;
  active = &warp;
  for (Lane& lane : warp.lanes) {
    if (lane.stack.empty()) lane.stack.resize(1 << 18);
    getcontext(&lane.context);
    lane.context.uc_stack.ss_sp = lane.stack.data();
    lane.context.uc_stack.ss_size = lane.stack.size();
    lane.context.uc_link = &warp.scheduler;
    makecontext(&lane.context, lane_entry, 0);
    lane.op = Op::syncwarp;  // "parked": not started yet
  }
  for (;;) {
    for (int k = 0; k < kLanes; ++k) {
      int l = order == Order::forward ? k : kLanes - 1 - k;
      if (warp.lanes[l].op == Op::done) continue;
      warp.current = l;
      threadIdx.x = first_thread + static_cast<unsigned>(l);
      swapcontext(&warp.scheduler, &warp.lanes[l].context);
    }
    int done = 0;
    for (const Lane& lane : warp.lanes) done += lane.op == Op::done;
    if (done == kLanes) break;
    for (int l = 0; l < kLanes; ++l) {
      if (warp.lanes[l].op != warp.lanes[0].op)
        fail(done ? "lane finished while others wait at a warp intrinsic"
                  : "lanes reached different warp intrinsics",
             l, warp.lanes[l].op == Op::done ? warp.lanes[0].op : warp.lanes[l].op);
      warp.arrived[l] = warp.lanes[l].value;
    }
  }
  active = nullptr;
}

template <class V>
unsigned long long bits_of(V v) {
  static_assert(sizeof(V) <= 8, "warp_sim exchanges values of at most 8 bytes");
  unsigned long long b = 0;
  std::memcpy(&b, &v, sizeof(V));
  return b;
}

template <class V>
V value_of(unsigned long long b) {
  V v;
  std::memcpy(&v, &b, sizeof(V));
  return v;
}

// Parks the calling lane at an intrinsic until every lane has arrived; returns its lane index.
inline int arrive(Op op, unsigned mask, unsigned long long value, int arg) {
  Warp& warp = *active;
  int lane = warp.current;
  if (mask != kFullMask) fail("only full-warp masks are emulated", lane, op);
  warp.lanes[lane].op = op;
  warp.lanes[lane].value = value;
  warp.lanes[lane].arg = arg;
  swapcontext(&warp.lanes[lane].context, &warp.scheduler);
  return lane;
}

template <class V>
V shuffle(Op op, unsigned mask, V v, int arg) {
  int lane = arrive(op, mask, bits_of(v), arg);
  int src = op == Op::shfl        ? arg % kLanes
            : op == Op::shfl_up   ? lane - arg
            : op == Op::shfl_down ? lane + arg
                                  : lane ^ arg;
  return value_of<V>(active->arrived[src >= 0 && src < kLanes ? src : lane]);
}

template <class V>
V reduce(Op op, unsigned mask, V v) {
  arrive(op, mask, bits_of(v), 0);
  V r = value_of<V>(active->arrived[0]);
  for (int l = 1; l < kLanes; ++l) {
    V o = value_of<V>(active->arrived[l]);
    r = op == Op::reduce_add ? static_cast<V>(r + o) : (o > r ? o : r);
  }
  return r;
}

// One host call standing for a kernel launch: every warp of every block, one at a time.
template <class Kernel, class... Args>
void launch(Kernel kernel, unsigned grid, unsigned block, Order order, Args... args) {
  if (block % kLanes) {
    std::fprintf(stderr, "warp_sim: blocks must be whole warps\n");
    std::exit(2);
  }
  gridDim.x = grid;
  blockDim.x = block;
  for (unsigned b = 0; b < grid; ++b) {
    blockIdx.x = b;
    for (unsigned w = 0; w < block; w += kLanes) run_warp([&] { kernel(args...); }, w, order);
  }
}

}  // namespace warp_sim

template <class V>
V __shfl_sync(unsigned mask, V v, int src) { return warp_sim::shuffle(warp_sim::Op::shfl, mask, v, src); }
template <class V>
V __shfl_up_sync(unsigned mask, V v, unsigned delta) {
  return warp_sim::shuffle(warp_sim::Op::shfl_up, mask, v, static_cast<int>(delta));
}
template <class V>
V __shfl_down_sync(unsigned mask, V v, unsigned delta) {
  return warp_sim::shuffle(warp_sim::Op::shfl_down, mask, v, static_cast<int>(delta));
}
template <class V>
V __shfl_xor_sync(unsigned mask, V v, int lane_mask) {
  return warp_sim::shuffle(warp_sim::Op::shfl_xor, mask, v, lane_mask);
}
inline int __reduce_add_sync(unsigned mask, int v) { return warp_sim::reduce(warp_sim::Op::reduce_add, mask, v); }
inline unsigned __reduce_add_sync(unsigned mask, unsigned v) {
  return warp_sim::reduce(warp_sim::Op::reduce_add, mask, v);
}
inline int __reduce_max_sync(unsigned mask, int v) { return warp_sim::reduce(warp_sim::Op::reduce_max, mask, v); }
inline unsigned __reduce_max_sync(unsigned mask, unsigned v) {
  return warp_sim::reduce(warp_sim::Op::reduce_max, mask, v);
}
// Cache-hinted loads and stores: plain memory accesses on the host.
template <class V>
V __ldcs(const V* p) { return *p; }
template <class V>
void __stcs(V* p, V v) { *p = v; }
inline void __syncwarp(unsigned mask = warp_sim::kFullMask) {
  warp_sim::arrive(warp_sim::Op::syncwarp, mask, 0, 0);
}
