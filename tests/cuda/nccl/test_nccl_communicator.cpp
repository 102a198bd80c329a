// The NCCL communicator on real device buffers: every collective against the sum / order it
// must produce, the asynchronous all-reduce handle, and the byte counters against the ring
// model shared with the MPI backend. Runs under mpirun with one rank per GPU (or as a single
// MPI process); without a GPU every test skips with a visible reason.
#include <gtest/gtest.h>
#include <mpi.h>

#include <vector>

#include "tests/gpu_skip.h"
#include "core/tensor.h"
#include "parallel/nccl_communicator.h"
#include "core/cuda_device.h"

namespace glm::parallel {
namespace {

struct World {
  int rank = 0, size = 1, device = 0;
  World() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    device = rank % cuda_device_count();
  }
};

std::vector<float> to_host(const Tensor& t) {
  Tensor h = t.to(Device::cpu());
  return std::vector<float>(h.data<float>(), h.data<float>() + h.numel());
}

Tensor device_filled(std::int64_t n, int device, float (*f)(std::int64_t, int), int rank) {
  Tensor h = Tensor::empty({n}, DType::f32);
  for (std::int64_t i = 0; i < n; ++i) h.data<float>()[i] = f(i, rank);
  return h.to(Device::cuda(device));
}

TEST(NcclCommunicator, CollectivesProduceSumsAndRankOrder) {
  SKIP_WITHOUT_GPU();
  World w;
  NcclCommunicator comm(MPI_COMM_WORLD, "world", 60, w.device);
  EXPECT_EQ(comm.rank(), w.rank);
  EXPECT_EQ(comm.size(), w.size);
  const std::int64_t n = 1003;
  auto value = [](std::int64_t i, int r) { return static_cast<float>((r + 1) * (i % 17)); };

  Tensor x = device_filled(n, w.device, value, w.rank);
  comm.all_reduce_sum({x.data<float>(), static_cast<std::size_t>(n)});
  const std::vector<float> xs = to_host(x);
  const float ranks_sum = w.size * (w.size + 1) / 2.f;
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(xs[i], ranks_sum * (i % 17)) << i;

  Tensor in = device_filled(n * w.size, w.device, value, w.rank);
  Tensor out = Tensor::empty({n}, DType::f32, Device::cuda(w.device));
  comm.reduce_scatter_sum({in.data<float>(), static_cast<std::size_t>(n * w.size)},
                          {out.data<float>(), static_cast<std::size_t>(n)});
  const std::vector<float> os = to_host(out);
  for (std::int64_t i = 0; i < n; ++i)
    ASSERT_EQ(os[i], ranks_sum * ((w.rank * n + i) % 17)) << i;

  Tensor gathered = Tensor::empty({n * w.size}, DType::f32, Device::cuda(w.device));
  Tensor mine = device_filled(n, w.device, value, w.rank);
  comm.all_gather({mine.data<float>(), static_cast<std::size_t>(n)},
                  {gathered.data<float>(), static_cast<std::size_t>(n * w.size)});
  const std::vector<float> gs = to_host(gathered);
  for (int r = 0; r < w.size; ++r)
    for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(gs[r * n + i], value(i, r));

  Tensor b = device_filled(n, w.device, value, w.rank);
  comm.broadcast({static_cast<std::byte*>(b.raw()), static_cast<std::size_t>(4 * n)}, 0);
  const std::vector<float> bs = to_host(b);
  for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(bs[i], value(i, 0));
  comm.barrier();

  // The ring model of communicator.h, as the MPI backend counts it.
  const std::uint64_t p = w.size;
  EXPECT_EQ(comm.stats().bytes(CommOp::all_reduce), p > 1 ? 2 * (p - 1) * 4 * n / p : 0);
  EXPECT_EQ(comm.stats().bytes(CommOp::reduce_scatter), (p - 1) * 4 * n);
  EXPECT_EQ(comm.stats().bytes(CommOp::all_gather), (p - 1) * 4 * n);
}

TEST(NcclCommunicator, AsyncAllReduceCompletesOnWait) {
  SKIP_WITHOUT_GPU();
  World w;
  NcclCommunicator comm(MPI_COMM_WORLD, "dp", 60, w.device);
  const std::int64_t n = 1 << 20;
  std::vector<Tensor> buckets;
  std::vector<NcclWork> pending;
  for (int k = 0; k < 3; ++k) {
    buckets.push_back(device_filled(n, w.device, [](std::int64_t i, int r) {
      return static_cast<float>(r + (i % 5));
    }, w.rank));
    pending.push_back(comm.all_reduce_sum_async({buckets.back().data<float>(), static_cast<std::size_t>(n)}));
  }
  for (NcclWork& work : pending) work.wait();
  EXPECT_TRUE(pending.front().ready());
  const float rank_sum = w.size * (w.size - 1) / 2.f;
  for (const Tensor& t : buckets) {
    const std::vector<float> v = to_host(t);
    for (std::int64_t i = 0; i < n; i += 997) ASSERT_EQ(v[i], rank_sum + w.size * (i % 5)) << i;
  }
}

}  // namespace
}  // namespace glm::parallel

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS();
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any_failed;
}
