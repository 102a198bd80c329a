// The DP x TP x PP grid of ranks (docs/design.md section 4) and the process groups it implies.
//
// Rank order: TP varies fastest, then DP, then PP:   rank = tp + TP * (dp + DP * pp)
// so the ranks of a tensor-parallel group are neighbours (one node).
//
// Worked example, 16 ranks, TP=2, PP=4 (so DP=2):
//   rank:   0  1  2  3 | 4  5  6  7 | 8  9 10 11 | 12 13 14 15
//   pp:     0  0  0  0 | 1  1  1  1 | 2  2  2  2 |  3  3  3  3
//   dp:     0  0  1  1 | 0  0  1  1 | 0  0  1  1 |  0  0  1  1
//   tp:     0  1  0  1 | 0  1  0  1 | 0  1  0  1 |  0  1  0  1
//   TP groups (same dp, pp):       {0,1} {2,3} {4,5} ... {14,15}
//   DP groups (same tp, pp):       {0,2} {1,3} {4,6} {5,7} ... {13,15}
//   PP groups (same tp, dp):       {0,4,8,12} {1,5,9,13} {2,6,10,14} {3,7,11,15}
//   embedding groups (first and last stage of each PP group, for the tied head):
//                                  {0,12} {1,13} {2,14} {3,15}
// Topology is plain arithmetic (no MPI): the communicators are built from it in
// parallel/mpi_communicator.h.
#pragma once

#include <string>
#include <vector>

namespace glm::parallel {

struct Coord {
  int dp = 0, tp = 0, pp = 0;
  bool operator==(const Coord&) const = default;
};

class Topology {
 public:
  // Throws InputError when dp*tp*pp != world or any size < 1.
  Topology(int dp, int tp, int pp, int world);

  int dp() const { return dp_; }
  int tp() const { return tp_; }
  int pp() const { return pp_; }
  int world() const { return dp_ * tp_ * pp_; }

  int rank_of(Coord c) const { return c.tp + tp_ * (c.dp + dp_ * c.pp); }
  Coord coord_of(int rank) const;

  // Members of each group containing `rank`, in increasing group-local rank order.
  std::vector<int> tp_group(int rank) const;
  std::vector<int> dp_group(int rank) const;
  std::vector<int> pp_group(int rank) const;
  // First and last stage of rank's PP group (one rank when PP = 1).
  std::vector<int> embedding_group(int rank) const;

  // How `rank` splits the world into the groups above, as MPI_Comm_split takes it: ranks of
  // one color share a group, ordered by key. `embedding.color` is -1 (no group) for a rank
  // of a middle stage. Both communicators (MPI, NCCL) form their groups from it.
  struct Split {
    int color = 0, key = 0;
  };
  struct GroupSplits {
    Split tp, dp, pp, embedding;
  };
  GroupSplits group_splits(int rank) const;

  std::string describe() const;  // "dp2 x tp2 x pp4 = 16 ranks"

 private:
  int dp_, tp_, pp_;
};

// The GPU of the rank with node-local index `local_rank` among `local_size` ranks on its
// node (glm-train, and glm-generate / glm-eval over ranks): one GPU per rank, GPU i for
// local rank i. InputError when the node has more ranks than GPUs (NCCL refuses two ranks of
// one communicator on one GPU: "Duplicate GPU detected"), naming the counts and the fix.
int rank_gpu(int local_rank, int local_size, int cuda_devices);

}  // namespace glm::parallel
