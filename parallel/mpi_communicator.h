// The MPI backend of Communicator, and the process groups of a Topology built over MPI.
//
//   MPI_Init(...);
//   Topology topo(dp, tp, pp, world_size);
//   ProcessGroups g = make_process_groups(topo, MPI_COMM_WORLD, /*timeout_s=*/300);
//   g.dp->all_reduce_sum(grads);
//
// Collectives are started non-blocking and polled against a deadline; a deadline that
// passes logs "rank R (group G): OP did not complete within T s" and calls MPI_Abort, which
// ends every rank of the job.
#pragma once

#include <mpi.h>

#include <memory>

#include "parallel/communicator.h"
#include "parallel/topology.h"

namespace glm::parallel {

class MpiCommunicator final : public Communicator {
 public:
  // Takes ownership of comm (freed on destruction unless it is MPI_COMM_WORLD).
  MpiCommunicator(MPI_Comm comm, std::string name, double timeout_s);
  ~MpiCommunicator() override;
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void all_reduce_sum(std::span<float> data) override;
  void all_reduce_sum(std::span<double> data) override;
  void reduce_scatter_sum(std::span<const float> in, std::span<float> out) override;
  void all_gather(std::span<const float> in, std::span<float> out) override;
  void broadcast(std::span<std::byte> data, int root) override;
  void send(std::span<const float> data, int peer) override;
  void recv(std::span<float> data, int peer) override;
  void send_recv(std::span<const float> send_data, int send_peer, std::span<float> recv_data,
                 int recv_peer) override;
  void barrier() override;

  MPI_Comm comm() const { return comm_; }

 private:
  void wait(MPI_Request& req, CommOp op);  // polls until done or the deadline aborts
  void wait_all(std::span<MPI_Request> reqs, CommOp op);
  // In-place sum of n elements of `type` (elem_bytes each) over the group, counted.
  void all_reduce(void* data, std::size_t n, std::size_t elem_bytes, MPI_Datatype type);
  MPI_Comm comm_;
  int rank_ = 0, size_ = 1, world_rank_ = 0;
  double timeout_s_;
};

// Collective over `world`: every rank must call it with the same topology.
ProcessGroups make_process_groups(const Topology& topo, MPI_Comm world, double timeout_s);

}  // namespace glm::parallel
