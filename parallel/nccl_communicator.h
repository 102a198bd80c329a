// The NCCL backend of Communicator (docs/design.md section 4): collectives over device memory,
// one rank per GPU, for CUDA runs. Compiled only when the build has CUDA and finds NCCL
// (GLM_WITH_NCCL).
//
//   MPI_Init(...);                                    // ranks come from mpirun, as for MPI
//   int dev = train::rank_gpu(local_rank, local_size, cuda_device_count());  // one GPU per rank
//   NcclCommunicator dp(dp_mpi_comm, "dp", /*timeout_s=*/600, dev);
//   dp.all_reduce_sum(grads_on_device);               // std::span over device floats
//
// Set-up: rank 0 of the group creates the ncclUniqueId and broadcasts it over the group's
// MPI communicator (which is only borrowed for that); both the broadcast and the blocking
// ncclCommInitRank are bounded by the same timeout (parallel/deadline.h), so a peer that
// dies before joining ends the job with a message naming this rank and group. Every collective runs on this
// communicator's own stream, after the caller's current stream (kernels/cuda/cuda_stream.h)
// has reached the point of the call (an event), and is polled with cudaEventQuery and
// ncclCommGetAsyncError until a deadline, exactly as MpiCommunicator polls MPI_Test: past
// the deadline (or on an asynchronous NCCL error) it logs
// "rank R (group G, rank r of n): OP did not complete within T s", calls ncclCommAbort and
// MPI_Abort, so the whole job ends instead of hanging. Bytes are counted with the same ring
// model as the MPI backend (communicator.h).
//
// Overlap (train/grad_reduce.h, during the last backward): all_reduce_sum_async enqueues
// the all-reduce of one layer's gradient range and returns a handle at once; the trainer
// keeps computing on its stream and waits on every handle before the optimizer step:
//   std::vector<NcclWork> pending;
//   for each layer whose backward is done (last layers first):
//     pending.push_back(dp.all_reduce_sum_async(layer_grads));   // after the backward so far
//   for (auto& w : pending) w.wait();                            // deadline-polled
// The range's memory must stay allocated until its handle is waited on.
// Every operation also takes host memory (the trainer's agreed scalars), staged through a
// device copy; the seconds a rank waits inside its operations are counted in stats().
#pragma once

#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>

#include <memory>
#include <string>

#include "parallel/communicator.h"
#include "parallel/mpi_communicator.h"  // ProcessGroups (and the MPI groups the ids travel over)
#include "parallel/topology.h"

namespace glm::parallel {

class NcclCommunicator;

// An enqueued collective: ready() polls, wait() blocks until done or the deadline aborts.
class NcclWork {
 public:
  NcclWork(NcclWork&& o) noexcept;
  NcclWork& operator=(NcclWork&& o) noexcept;
  NcclWork(const NcclWork&) = delete;
  NcclWork& operator=(const NcclWork&) = delete;
  ~NcclWork();  // waits for completion if still pending (never abandons in-flight work)

  bool ready() const;
  void wait();

 private:
  friend class NcclCommunicator;
  NcclWork(NcclCommunicator* comm, CommOp op, cudaEvent_t done)
      : comm_(comm), op_(op), done_(done) {}
  NcclCommunicator* comm_ = nullptr;
  CommOp op_ = CommOp::all_reduce;
  cudaEvent_t done_ = nullptr;
};

class NcclCommunicator final : public Communicator {
 public:
  // Collective over `group` (every rank of it must call this with its own device).
  NcclCommunicator(MPI_Comm group, std::string name, double timeout_s, int device);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  bool takes_device_memory() const override { return true; }
  // all_reduce_sum_async behind the interface's handle (device memory).
  std::unique_ptr<CommWork> all_reduce_sum_start(std::span<float> data) override;
  // All spans point to device memory on this communicator's device.
  void all_reduce_sum(std::span<float> data) override;
  void all_reduce_sum(std::span<double> data) override;
  void reduce_scatter_sum(std::span<const float> in, std::span<float> out) override;
  void all_gather(std::span<const float> in, std::span<float> out) override;
  void broadcast(std::span<std::byte> data, int root) override;
  void send(std::span<const float> data, int peer) override;
  void recv(std::span<float> data, int peer) override;
  // Communicator::send_recv (no `override` keyword so this header also compiles against an
  // interface revision without it).
  void send_recv(std::span<const float> send_data, int send_peer, std::span<float> recv_data,
                 int recv_peer);
  void barrier() override;

  // Enqueued after the caller's current stream, returns at once (see the header comment).
  NcclWork all_reduce_sum_async(std::span<float> data);

  cudaStream_t stream() const { return stream_; }
  int device() const { return device_; }

 private:
  friend class NcclWork;
  void begin();                            // the comm stream waits for the caller's stream
  cudaEvent_t finish();                    // an event after the enqueued operation
  void poll(cudaEvent_t done, CommOp op);  // until done, or abort at the deadline
  void run_blocking(CommOp op, cudaEvent_t done);
  [[noreturn]] void abort_job(CommOp op, const std::string& why);

  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  float* barrier_buf_ = nullptr;
  int rank_ = 0, size_ = 1, world_rank_ = 0, device_ = 0;
  double timeout_s_;
};

// The process groups of a Topology over NCCL (the same MPI splits as make_process_groups),
// this rank's GPU being `device`. Collective over `world`.
ProcessGroups make_nccl_process_groups(const Topology& topo, MPI_Comm world, double timeout_s,
                                       int device);

}  // namespace glm::parallel
