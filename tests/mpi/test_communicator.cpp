// The MPI communicator and process groups under mpirun (4 ranks): every collective against
// the sums and layouts it must produce, the group membership against the topology's
// arithmetic, and the byte counters against their formulas.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "parallel/data_parallel.h"
#include "parallel/mpi_communicator.h"
#include "parallel/tensor_span.h"

namespace glm::parallel {
namespace {

constexpr double kTimeoutS = 60;

int world_rank() {
  int r;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int s;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

TEST(Topology, RankOrderIsTpFastestThenDpThenPp) {
  Topology t(2, 2, 4, 16);  // the worked example in topology.h
  EXPECT_EQ(t.rank_of({1, 0, 2}), 10);
  EXPECT_EQ(t.coord_of(13), (Coord{0, 1, 3}));
  EXPECT_EQ(t.tp_group(5), (std::vector<int>{4, 5}));
  EXPECT_EQ(t.dp_group(5), (std::vector<int>{5, 7}));
  EXPECT_EQ(t.pp_group(6), (std::vector<int>{2, 6, 10, 14}));
  EXPECT_EQ(t.embedding_group(9), (std::vector<int>{1, 13}));
  for (int r = 0; r < 16; ++r) EXPECT_EQ(t.rank_of(t.coord_of(r)), r);
  EXPECT_THROW(Topology(2, 2, 2, 6), glm::InputError);
}

// The colors and keys both communicators split the world by form exactly the topology's
// groups, in their order, for every rank of a 3-D layout.
TEST(Topology, GroupSplitsFormTheGroups) {
  const Topology t(2, 3, 4, 24);
  using Of = Topology::Split Topology::GroupSplits::*;
  const std::vector<std::pair<Of, std::vector<int> (Topology::*)(int) const>> groups = {
      {&Topology::GroupSplits::tp, &Topology::tp_group},
      {&Topology::GroupSplits::dp, &Topology::dp_group},
      {&Topology::GroupSplits::pp, &Topology::pp_group},
      {&Topology::GroupSplits::embedding, &Topology::embedding_group}};
  for (int r = 0; r < t.world(); ++r) {
    for (const auto& [of, group] : groups) {
      const Topology::Split mine = t.group_splits(r).*of;
      const int stage = t.coord_of(r).pp;
      if (of == &Topology::GroupSplits::embedding && stage != 0 && stage != t.pp() - 1) {
        EXPECT_EQ(mine.color, -1) << r;
        continue;
      }
      std::vector<std::pair<int, int>> same;  // (key, rank) of every rank with my color
      for (int q = 0; q < t.world(); ++q)
        if (const Topology::Split theirs = t.group_splits(q).*of; theirs.color == mine.color)
          same.push_back({theirs.key, q});
      std::sort(same.begin(), same.end());
      std::vector<int> members;
      for (const auto& [key, q] : same) members.push_back(q);
      EXPECT_EQ(members, (t.*group)(r)) << "rank " << r;
    }
  }
}

TEST(MpiCommunicator, GroupsMatchTheTopology) {
  const int W = world_size();
  ASSERT_EQ(W % 2, 0) << "run with an even number of ranks";
  Topology topo(1, 2, W / 2, W);  // tp2, pp = W/2
  ProcessGroups g = make_process_groups(topo, MPI_COMM_WORLD, kTimeoutS);
  const int r = world_rank();
  // Each group's all-gather of world ranks lists exactly the topology's members.
  auto members = [](Communicator& c) {
    float me = static_cast<float>(world_rank());
    std::vector<float> all(c.size());
    c.all_gather(std::span<const float>(&me, 1), all);
    return std::vector<int>(all.begin(), all.end());
  };
  EXPECT_EQ(members(*g.tp), topo.tp_group(r));
  EXPECT_EQ(members(*g.dp), topo.dp_group(r));
  EXPECT_EQ(members(*g.pp), topo.pp_group(r));
  const Coord c = topo.coord_of(r);
  if (c.pp == 0 || c.pp == topo.pp() - 1) {
    ASSERT_NE(g.embedding, nullptr);
    EXPECT_EQ(members(*g.embedding), topo.embedding_group(r));
  } else {
    EXPECT_EQ(g.embedding, nullptr);
  }
}

TEST(MpiCommunicator, CollectivesComputeTheRightValuesAndCountBytes) {
  const int W = world_size(), r = world_rank();
  Topology topo(W, 1, 1, W);
  ProcessGroups g = make_process_groups(topo, MPI_COMM_WORLD, kTimeoutS);
  Communicator& c = *g.world;
  const int n = 10;

  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = static_cast<float>(r * 100 + i);
  c.all_reduce_sum(x);
  for (int i = 0; i < n; ++i) EXPECT_EQ(x[i], 100.f * W * (W - 1) / 2 + W * i);
  EXPECT_EQ(c.stats().bytes(CommOp::all_reduce), 2ull * (W - 1) * 4 * n / W);
  std::vector<double> big = {static_cast<double>(r) + 1e12, 1.0};
  c.all_reduce_sum(big);
  EXPECT_EQ(big[0], W * 1e12 + W * (W - 1) / 2.0);  // exact beyond fp32's 2^24
  EXPECT_EQ(big[1], W);

  std::vector<float> in(n * W), out(n);
  for (int i = 0; i < n * W; ++i) in[i] = static_cast<float>(i + r);
  c.reduce_scatter_sum(in, out);
  for (int i = 0; i < n; ++i) EXPECT_EQ(out[i], W * static_cast<float>(r * n + i) + W * (W - 1) / 2.f);
  EXPECT_EQ(c.stats().bytes(CommOp::reduce_scatter), 4ull * (W - 1) * n);

  std::vector<float> gathered(n * W);
  c.all_gather(out, gathered);
  for (int q = 0; q < W; ++q)
    EXPECT_EQ(gathered[q * n], W * static_cast<float>(q * n) + W * (W - 1) / 2.f);
  EXPECT_EQ(c.stats().bytes(CommOp::all_gather), 4ull * (W - 1) * n);

  std::vector<std::byte> b(7, std::byte{0});
  if (r == 1) b.assign(7, std::byte{42});
  c.broadcast(b, 1);
  EXPECT_EQ(b[6], std::byte{42});

  // A ring of point-to-point messages (even ranks send first to avoid a cycle of waits).
  std::vector<float> msg(5, static_cast<float>(r)), got(5);
  const int next = (r + 1) % W, prev = (r + W - 1) % W;
  if (r % 2 == 0) {
    c.send(msg, next);
    c.recv(got, prev);
  } else {
    c.recv(got, prev);
    c.send(msg, next);
  }
  EXPECT_EQ(got[4], static_cast<float>(prev));
  EXPECT_EQ(c.stats().bytes(CommOp::send), 20u);
  c.barrier();
}

// A CUDA tensor handed to an MPI group (a CUDA run without NCCL groups) is refused by name
// before MPI sees the pointer. The tensor is host memory labelled as device memory, so the
// check runs without a GPU; nothing is sent, and every rank refuses alike.
TEST(MpiCommunicator, RefusesDeviceMemoryNamingTheGroup) {
  const int W = world_size();
  ProcessGroups g = make_process_groups(Topology(W, 1, 1, W), MPI_COMM_WORLD, kTimeoutS);
  std::vector<float> host(16 * W, 1.f);  // a padded ZeRO-1 buffer: 16 floats per rank
  Tensor on_cuda = Tensor::wrap(host.data(), {16 * W}, DType::f32, Device::cuda(0));
  EXPECT_FALSE(g.dp->takes_device_memory());
  const ShardPlan plan(16, W);
  Tensor shard = Tensor::empty({plan.shard}, DType::f32);
  try {
    reduce_scatter_shard(*g.dp, plan, on_cuda, shard);
    FAIL() << "an MPI group took a CUDA tensor";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("group 'dp' moves host memory only"), std::string::npos)
        << e.what();
  }
  Tensor host_tensor = Tensor::wrap(host.data(), {16 * W}, DType::f32);
  EXPECT_EQ(floats(*g.dp, host_tensor).size(), 16u * W);
  EXPECT_EQ(g.dp->stats().total_bytes_sent(), 0u);
}

}  // namespace
}  // namespace glm::parallel

namespace glm::parallel {
namespace {

TEST(DataParallel, ReduceScatterThenAllGatherRebuildsTheSum) {
  const int W = world_size(), r = world_rank();
  ProcessGroups g = make_process_groups(Topology(W, 1, 1, W), MPI_COMM_WORLD, kTimeoutS);
  ShardPlan plan(1001, W);
  EXPECT_EQ(plan.padded % (16 * W), 0);
  EXPECT_EQ(plan.end(W - 1), 1001);
  Tensor grads = Tensor::zeros({plan.padded}, DType::f32), shard = Tensor::empty({plan.shard}, DType::f32);
  for (int i = 0; i < 1001; ++i) grads.data<float>()[i] = static_cast<float>(i % 5 + r);
  reduce_scatter_shard(*g.world, plan, grads, shard);
  for (std::int64_t i = plan.begin(r); i < plan.end(r); ++i)
    ASSERT_EQ(shard.data<float>()[i - plan.begin(r)], W * static_cast<float>(i % 5) + W * (W - 1) / 2.f);
  Tensor full = Tensor::empty({plan.padded}, DType::f32);
  all_gather_shards(*g.world, plan, shard, full);
  for (int i = 0; i < 1001; ++i)
    ASSERT_EQ(full.data<float>()[i], W * static_cast<float>(i % 5) + W * (W - 1) / 2.f);
  // ZeRO-1's traffic: (p-1)/p of the padded buffer each way.
  EXPECT_EQ(g.world->stats().bytes(CommOp::reduce_scatter), 4ull * (W - 1) * plan.shard);
  EXPECT_EQ(g.world->stats().bytes(CommOp::all_gather), 4ull * (W - 1) * plan.shard);
}

}  // namespace
}  // namespace glm::parallel
