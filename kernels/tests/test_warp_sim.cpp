// The host stand-in for CUDA blocks (warp_sim.h) against the CUDA semantics the kernel tests rely
// on: each shuffle, the reductions, __syncthreads with __shared__ memory, both thread orders. With
// an argument it runs a broken kernel instead, which must stop with an error (ctest: WILL_FAIL).
#include "tests/warp_sim.h"

#include <cstdio>
#include <cstring>

#include "tests/expect.h"

extern "C" __global__ void shuffles(int* out) {
  int lane = static_cast<int>(threadIdx.x % 32), v = static_cast<int>(threadIdx.x) * 10;
  int* o = out + threadIdx.x * 6;
  o[0] = __shfl_sync(0xffffffffu, v, 5);
  o[1] = __shfl_up_sync(0xffffffffu, v, 3);
  o[2] = __shfl_down_sync(0xffffffffu, v, 3);
  o[3] = __shfl_xor_sync(0xffffffffu, v, 1);
  o[4] = __reduce_add_sync(0xffffffffu, lane);
  o[5] = __reduce_max_sync(0xffffffffu, lane == 7 ? 100 : lane);
}

extern "C" __global__ void block_sum(int* out) {
  __shared__ int partial[32];
  int v = static_cast<int>(threadIdx.x);
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    int s = 0;
    for (unsigned w = 0; w < blockDim.x / 32; ++w) s += partial[w];
    out[blockIdx.x] = s;
  }
}

extern "C" __global__ void divergent_barrier(int* out) {
  if (threadIdx.x < 32) __syncthreads();
  out[threadIdx.x] = 1;
}

extern "C" __global__ void divergent_shuffle(int* out) {
  int v = static_cast<int>(threadIdx.x);
  if (threadIdx.x % 32 < 16) v = __shfl_down_sync(0xffffffffu, v, 1);
  out[threadIdx.x] = v;
}

int main(int argc, char** argv) {
  static int out[64 * 6];
  if (argc > 1) {  // must not return
    if (!std::strcmp(argv[1], "divergent-barrier")) warp_sim::launch(divergent_barrier, 1, 64, warp_sim::Order::forward, out);
    if (!std::strcmp(argv[1], "divergent-shuffle")) warp_sim::launch(divergent_shuffle, 1, 64, warp_sim::Order::forward, out);
    std::printf("%s: not detected\n", argv[1]);
    return 0;
  }
  for (auto order : {warp_sim::Order::forward, warp_sim::Order::reverse}) {
    warp_sim::launch(shuffles, 1, 64, order, out);
    for (int t = 0; t < 64; ++t) {
      int lane = t % 32, base = t - lane;
      const int* o = out + t * 6;
      expect_near(o[0], (base + 5) * 10, "__shfl_sync");
      expect_near(o[1], (lane >= 3 ? t - 3 : t) * 10, "__shfl_up_sync");
      expect_near(o[2], (lane + 3 < 32 ? t + 3 : t) * 10, "__shfl_down_sync");
      expect_near(o[3], (t ^ 1) * 10, "__shfl_xor_sync");
      expect_near(o[4], 31 * 32 / 2, "__reduce_add_sync");
      expect_near(o[5], 100, "__reduce_max_sync");
    }
    warp_sim::launch(block_sum, 3, 256, order, out);
    for (int b = 0; b < 3; ++b) expect_near(out[b], 255 * 256 / 2, "__syncthreads and __shared__");
  }
  return finish("warp_sim");
}
