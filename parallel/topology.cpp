#include "parallel/topology.h"

#include <fmt/format.h>

#include "core/error.h"

namespace glm::parallel {

Topology::Topology(int dp, int tp, int pp, int world) : dp_(dp), tp_(tp), pp_(pp) {
  if (dp < 1 || tp < 1 || pp < 1)
    throw InputError(fmt::format("parallel sizes must be >= 1 (dp {}, tp {}, pp {})", dp, tp, pp));
  if (dp * tp * pp != world)
    throw InputError(fmt::format("world size {} != dp*tp*pp = {}*{}*{} = {}", world, dp, tp, pp,
                                 dp * tp * pp));
}

Coord Topology::coord_of(int rank) const {
  GLM_CHECK(rank >= 0 && rank < world(), "rank {} outside a world of {}", rank, world());
  return {(rank / tp_) % dp_, rank % tp_, rank / (tp_ * dp_)};
}

std::vector<int> Topology::tp_group(int rank) const {
  Coord c = coord_of(rank);
  std::vector<int> g;
  for (int t = 0; t < tp_; ++t) g.push_back(rank_of({c.dp, t, c.pp}));
  return g;
}

std::vector<int> Topology::dp_group(int rank) const {
  Coord c = coord_of(rank);
  std::vector<int> g;
  for (int d = 0; d < dp_; ++d) g.push_back(rank_of({d, c.tp, c.pp}));
  return g;
}

std::vector<int> Topology::pp_group(int rank) const {
  Coord c = coord_of(rank);
  std::vector<int> g;
  for (int p = 0; p < pp_; ++p) g.push_back(rank_of({c.dp, c.tp, p}));
  return g;
}

std::vector<int> Topology::embedding_group(int rank) const {
  Coord c = coord_of(rank);
  if (pp_ == 1) return {rank};
  return {rank_of({c.dp, c.tp, 0}), rank_of({c.dp, c.tp, pp_ - 1})};
}

Topology::GroupSplits Topology::group_splits(int rank) const {
  const Coord c = coord_of(rank);
  const bool in_embedding = c.pp == 0 || c.pp == pp_ - 1;
  return {.tp = {c.dp + dp_ * c.pp, c.tp},
          .dp = {c.tp + tp_ * c.pp, c.dp},
          .pp = {c.tp + tp_ * c.dp, c.pp},
          .embedding = {in_embedding ? c.tp + tp_ * c.dp : -1, c.pp}};
}

std::string Topology::describe() const {
  return fmt::format("dp{} x tp{} x pp{} = {} ranks", dp_, tp_, pp_, world());
}

int rank_gpu(int local_rank, int local_size, int cuda_devices) {
  GLM_CHECK(local_rank >= 0 && local_rank < local_size, "node-local rank {} of {}", local_rank,
            local_size);
  if (cuda_devices <= 0) throw InputError("--device cuda: no CUDA device present");
  if (local_size > cuda_devices)
    throw InputError(fmt::format(
        "--device cuda: {} ranks on this node share {} GPU{}; each rank needs its own GPU "
        "(start at most {} rank{} per node, e.g. mpirun -n {}, or make more GPUs visible)",
        local_size, cuda_devices, cuda_devices == 1 ? "" : "s", cuda_devices,
        cuda_devices == 1 ? "" : "s", cuda_devices));
  return local_rank;
}

}  // namespace glm::parallel
