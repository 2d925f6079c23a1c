// A host stand-in for CUDA thread blocks, so that ctest runs the native kernels themselves (their
// warp schedules, index math and early exits), not only their serial row logic, on a machine with
// no GPU. Include it before a kernels/<op>.cu file, then call warp_sim::launch(kernel, grid, block,
// order, args...).
//
// Each thread is a ucontext fiber on one OS thread. Lanes run one after another up to their next
// warp intrinsic (__shfl*_sync, __reduce_*_sync, __syncwarp) or __syncthreads; a warp's intrinsic
// completes when its 32 lanes have all arrived there (the values are then exchanged), a
// __syncthreads when every thread of the block has. Each warp runs as far as it can before the
// next one starts. So results are deterministic, and a warp whose lanes reach different
// intrinsics, lanes that finish while others of their warp wait at one, and a block that can make
// no progress (a __syncthreads some threads never reach) are reported as errors. Warps and lanes
// run in order 0..n-1 or n-1..0 (`Order`): a thread that reads, without a synchronisation in
// between, what another writes (a missing __syncwarp or __syncthreads), reads a different value in
// the two orders, which the tests compare. __shared__ variables are function statics: one copy,
// used by one block at a time.
//
// Only full masks (0xffffffff) and width 32 are emulated: the kernels use nothing else. Blocks run
// one at a time. Compile with -Wno-unknown-pragmas (a host compiler ignores "#pragma unroll") and
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
#define __launch_bounds__(...)
#define __shared__ static

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

enum class Op { shfl, shfl_up, shfl_down, shfl_xor, reduce_add, reduce_max, syncwarp, syncthreads, start, done };

inline const char* op_name(Op op) {
  static const char* names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
                                "__shfl_xor_sync", "__reduce_add_sync", "__reduce_max_sync",
                                "__syncwarp", "__syncthreads", "the kernel's start", "the kernel's end"};
  return names[static_cast<int>(op)];
}

[[noreturn]] inline void fail(const char* what, unsigned thread, Op op) {
  std::fprintf(stderr, "warp_sim: block %u thread %u: %s (%s)\n", blockIdx.x, thread, what, op_name(op));
  std::exit(2);
}

struct Thread {
  ucontext_t context;
  std::vector<char> stack;
  Op op = Op::done;
  bool waiting = false;          // parked at an intrinsic that has not completed
  unsigned long long value = 0;  // the bits this thread contributes at its current intrinsic
  int arg = 0;
};

struct Block {
  ucontext_t scheduler;
  std::vector<Thread> threads;
  std::vector<unsigned long long> arrived;  // per warp, every lane's bits at its last exchange
  unsigned current = 0;
  std::function<void()> body;
};

inline Block* active = nullptr;

inline void thread_entry() {
  active->body();
  active->threads[active->current].op = Op::done;
}  // returns to the scheduler through uc_link

inline bool is_warp_op(Op op) { return op != Op::syncthreads && op != Op::start && op != Op::done; }

// Completes warp w's intrinsic if all its lanes wait at it; reports divergence.
inline bool complete_warp(Block& b, unsigned w) {
  Thread* lanes = &b.threads[w * kLanes];
  Op op = Op::done;
  int waiting = 0, done = 0;
  for (int l = 0; l < kLanes; ++l) {
    if (lanes[l].op == Op::done) ++done;
    if (lanes[l].waiting && is_warp_op(lanes[l].op)) {
      if (waiting++ && lanes[l].op != op)
        fail("lanes reached different warp intrinsics", w * kLanes + l, lanes[l].op);
      op = lanes[l].op;
    }
  }
  if (waiting == 0) return false;
  if (done) fail("lane finished while others wait at a warp intrinsic", w * kLanes, op);
  if (waiting < kLanes) return false;  // the others are still running or at __syncthreads
  for (int l = 0; l < kLanes; ++l) {
    b.arrived[w * kLanes + l] = lanes[l].value;
    lanes[l].waiting = false;
  }
  return true;
}

// Runs `body` as every thread of the current block (blockDim.x threads, whole warps).
inline void run_block(std::function<void()> body, Order order) {
  static Block block;  // one set of thread stacks, reused by every block
  const unsigned n = blockDim.x;
  block.body = std::move(body);
  if (block.threads.size() < n) block.threads.resize(n);
  block.arrived.assign(n, 0);
  active = &block;
  static ucontext_t blank;  // one getcontext (a system call) for every fiber ever made
  static bool have_blank = getcontext(&blank) == 0;
  if (!have_blank) fail("getcontext failed", 0, Op::start);
  for (unsigned t = 0; t < n; ++t) {
    Thread& th = block.threads[t];
    if (th.stack.empty()) th.stack.resize(1 << 16);
    th.context = blank;
    th.context.uc_stack.ss_sp = th.stack.data();
    th.context.uc_stack.ss_size = th.stack.size();
    th.context.uc_link = &block.scheduler;
    makecontext(&th.context, thread_entry, 0);
    th.op = Op::start;
    th.waiting = false;
  }
  const unsigned warps = n / kLanes;
  for (;;) {
    bool ran = false, released = false;
    for (unsigned k = 0; k < warps; ++k) {  // each warp as far as it can go, then the next
      unsigned w = order == Order::forward ? k : warps - 1 - k;
      do {
        for (unsigned j = 0; j < kLanes; ++j) {
          unsigned t = w * kLanes + (order == Order::forward ? j : kLanes - 1 - j);
          Thread& th = block.threads[t];
          if (th.op == Op::done || th.waiting) continue;
          block.current = t;
          threadIdx.x = t;
          th.waiting = true;  // until the intrinsic it stops at completes
          swapcontext(&block.scheduler, &th.context);
          ran = true;
        }
      } while (complete_warp(block, w) && (released = true));
    }
    unsigned done = 0, at_barrier = 0;
    for (unsigned t = 0; t < n; ++t) {
      done += block.threads[t].op == Op::done;
      at_barrier += block.threads[t].waiting && block.threads[t].op == Op::syncthreads;
    }
    if (done == n) break;
    if (at_barrier && at_barrier + done == n) {
      if (done) fail("threads exited while others wait at __syncthreads", 0, Op::syncthreads);
      for (unsigned t = 0; t < n; ++t) block.threads[t].waiting = false;
      released = true;
    }
    if (!ran && !released) fail("no thread can go on (a __syncthreads not every thread reaches?)", 0, Op::syncthreads);
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

// Parks the calling thread at an intrinsic until it completes; returns the thread's index.
inline unsigned arrive(Op op, unsigned mask, unsigned long long value, int arg) {
  Block& block = *active;
  unsigned t = block.current;
  if (mask != kFullMask) fail("only full-warp masks are emulated", t, op);
  block.threads[t].op = op;
  block.threads[t].value = value;
  block.threads[t].arg = arg;
  swapcontext(&block.threads[t].context, &block.scheduler);
  return t;
}

template <class V>
V shuffle(Op op, unsigned mask, V v, int arg) {
  unsigned t = arrive(op, mask, bits_of(v), arg);
  int lane = static_cast<int>(t % kLanes);
  int src = op == Op::shfl        ? arg % kLanes
            : op == Op::shfl_up   ? lane - arg
            : op == Op::shfl_down ? lane + arg
                                  : lane ^ arg;
  return value_of<V>(active->arrived[t - lane + (src >= 0 && src < kLanes ? src : lane)]);
}

template <class V>
V reduce(Op op, unsigned mask, V v) {
  unsigned t = arrive(op, mask, bits_of(v), 0);
  const unsigned long long* warp = &active->arrived[t - t % kLanes];
  V r = value_of<V>(warp[0]);
  for (int l = 1; l < kLanes; ++l) {
    V o = value_of<V>(warp[l]);
    r = op == Op::reduce_add ? static_cast<V>(r + o) : (o > r ? o : r);
  }
  return r;
}

// One host call standing for a kernel launch: every block, one at a time.
template <class Kernel, class... Args>
void launch(Kernel kernel, unsigned grid, unsigned block, Order order, Args... args) {
  if (block == 0 || block % kLanes) {
    std::fprintf(stderr, "warp_sim: blocks must be whole warps\n");
    std::exit(2);
  }
  gridDim.x = grid;
  blockDim.x = block;
  for (unsigned b = 0; b < grid; ++b) {
    blockIdx.x = b;
    run_block([&] { kernel(args...); }, order);
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
inline void __syncthreads() { warp_sim::arrive(warp_sim::Op::syncthreads, warp_sim::kFullMask, 0, 0); }
