// Collective and point-to-point communication over one process group (docs/design.md section 4),
// behind one interface so the MPI backend (host memory: CPU runs and tests) and the NCCL
// backend (device memory) are interchangeable.
//
// Every operation either completes or, after `timeout_s` without completing, aborts the
// whole job with a message naming the rank, the group and the operation: never a silent
// hang. Each communicator counts the bytes this rank sends, per operation, under the ring
// algorithms' analytic model (what tests compare against the model's formulas):
//   all_reduce of n floats over p ranks    2 (p-1) * 4n / p   (reduce-scatter + all-gather)
//   reduce_scatter to n floats per rank    (p-1) * 4n
//   all_gather of n floats per rank        (p-1) * 4n
//   broadcast of b bytes                   b on every rank but the last of the chain
//   send of b bytes                        b
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace glm::parallel {

enum class CommOp { all_reduce, reduce_scatter, all_gather, broadcast, send, recv, barrier };
inline constexpr int kNumCommOps = 7;
const char* comm_op_name(CommOp op);

struct CommStats {
  std::array<std::uint64_t, kNumCommOps> bytes_sent{};
  std::array<std::uint64_t, kNumCommOps> calls{};
  double seconds = 0;  // wall time inside this communicator's operations (waiting included)
  std::uint64_t total_bytes_sent() const;
  std::uint64_t bytes(CommOp op) const { return bytes_sent[static_cast<int>(op)]; }
  void reset() { *this = {}; }
};

// A collective in flight (Communicator::all_reduce_sum_start): wait() returns once its
// buffer holds the result; the buffer must stay allocated until then.
class CommWork {
 public:
  virtual ~CommWork() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;  // within this group
  virtual int size() const = 0;
  // Whether the buffers may be CUDA device memory (NCCL); MPI takes host memory only.
  virtual bool takes_device_memory() const { return false; }
  const std::string& name() const { return name_; }  // "tp", "dp", "pp", "embedding", "world"

  // data = sum over the group of every rank's data (in place).
  virtual void all_reduce_sum(std::span<float> data) = 0;
  // The same for small fp64 vectors: loss sums, token counts, gradient-norm partial sums,
  // overflow flags (exact for integers below 2^53).
  virtual void all_reduce_sum(std::span<double> data) = 0;
  // Starts all_reduce_sum(data) and returns its handle, so the caller can compute while it
  // runs: NCCL runs it on its own stream; backends without asynchronous progress (MPI here)
  // complete it inside this call (the default) and return a finished handle.
  virtual std::unique_ptr<CommWork> all_reduce_sum_start(std::span<float> data);
  // out (n) = sum over ranks r of in[rank*n, (rank+1)*n); in holds size()*n floats.
  virtual void reduce_scatter_sum(std::span<const float> in, std::span<float> out) = 0;
  // out (size()*n) = every rank's in (n), in rank order. in may be this rank's own part of
  // out (in == out + rank() * n): an in-place gather.
  virtual void all_gather(std::span<const float> in, std::span<float> out) = 0;
  virtual void broadcast(std::span<std::byte> data, int root) = 0;
  virtual void send(std::span<const float> data, int peer) = 0;
  virtual void recv(std::span<float> data, int peer) = 0;
  // Both at once (either may be empty, peer ignored then): posted together and completed
  // together, so two neighbours that exchange in opposite directions cannot deadlock (the
  // pipeline's send-forward/receive-backward pairs). Counted as a send and a recv.
  virtual void send_recv(std::span<const float> send_data, int send_peer,
                         std::span<float> recv_data, int recv_peer) = 0;
  virtual void barrier() = 0;

  const CommStats& stats() const { return stats_; }

 protected:
  explicit Communicator(std::string name) : name_(std::move(name)) {}
  void count(CommOp op, std::uint64_t bytes) {
    stats_.bytes_sent[static_cast<int>(op)] += bytes;
    ++stats_.calls[static_cast<int>(op)];
  }
  void add_seconds(double s) { stats_.seconds += s; }

 private:
  std::string name_;
  CommStats stats_;
};

// The groups of one rank in a DP x TP x PP layout (parallel/topology.h), whatever the
// backend: built over MPI by make_process_groups (parallel/mpi_communicator.h).
struct ProcessGroups {
  std::unique_ptr<Communicator> world, tp, dp, pp;
  std::unique_ptr<Communicator> embedding;  // null on ranks that are neither first nor last stage
};

}  // namespace glm::parallel
