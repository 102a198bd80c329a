#include "parallel/mpi_communicator.h"

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/error.h"

namespace glm::parallel {
namespace {

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Error(fmt::format("MPI {} failed (code {})", what, rc));
}

int to_int(std::size_t n) {
  GLM_CHECK(n <= static_cast<std::size_t>(INT32_MAX), "message of {} elements exceeds MPI's int count", n);
  return static_cast<int>(n);
}

}  // namespace

MpiCommunicator::MpiCommunicator(MPI_Comm comm, std::string name, double timeout_s)
    : Communicator(std::move(name)), comm_(comm), timeout_s_(timeout_s) {
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_);
}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_WORLD && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void MpiCommunicator::wait(MPI_Request& req, CommOp op) { wait_all({&req, 1}, op); }

void MpiCommunicator::wait_all(std::span<MPI_Request> reqs, CommOp op) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  int done = 0;
  for (long polls = 0;; ++polls) {
    check(MPI_Testall(static_cast<int>(reqs.size()), reqs.data(), &done, MPI_STATUSES_IGNORE),
          comm_op_name(op));
    if (done) {
      add_seconds(std::chrono::duration<double>(clock::now() - start).count());
      return;
    }
    double waited = std::chrono::duration<double>(clock::now() - start).count();
    if (waited > timeout_s_) {
      spdlog::error("rank {} (group {}, rank {} of {}): {} did not complete within {:g} s; "
                    "aborting the job (a peer has died or hangs)",
                    world_rank_, name(), rank_, size_, comm_op_name(op), timeout_s_);
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
    // Spin briefly for fast collectives, then sleep so oversubscribed ranks make progress.
    if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void MpiCommunicator::all_reduce(void* data, std::size_t n, std::size_t elem_bytes,
                                 MPI_Datatype type) {
  count(CommOp::all_reduce, size_ > 1 ? 2ull * (size_ - 1) * elem_bytes * n / size_ : 0);
  if (size_ == 1) return;
  MPI_Request req;
  check(MPI_Iallreduce(MPI_IN_PLACE, data, to_int(n), type, MPI_SUM, comm_, &req), "Iallreduce");
  wait(req, CommOp::all_reduce);
}

void MpiCommunicator::all_reduce_sum(std::span<float> data) {
  all_reduce(data.data(), data.size(), sizeof(float), MPI_FLOAT);
}

void MpiCommunicator::all_reduce_sum(std::span<double> data) {
  all_reduce(data.data(), data.size(), sizeof(double), MPI_DOUBLE);
}

void MpiCommunicator::reduce_scatter_sum(std::span<const float> in, std::span<float> out) {
  GLM_CHECK(in.size() == out.size() * size_, "reduce_scatter: in {} != {} x out {}", in.size(), size_,
            out.size());
  count(CommOp::reduce_scatter, 4ull * (size_ - 1) * out.size());
  MPI_Request req;
  check(MPI_Ireduce_scatter_block(in.data(), out.data(), to_int(out.size()), MPI_FLOAT, MPI_SUM,
                                  comm_, &req),
        "Ireduce_scatter_block");
  wait(req, CommOp::reduce_scatter);
}

void MpiCommunicator::all_gather(std::span<const float> in, std::span<float> out) {
  GLM_CHECK(out.size() == in.size() * size_, "all_gather: out {} != {} x in {}", out.size(), size_,
            in.size());
  count(CommOp::all_gather, 4ull * (size_ - 1) * in.size());
  // MPI forbids aliased buffers unless the send side is MPI_IN_PLACE.
  const bool in_place = in.data() == out.data() + rank_ * in.size();
  MPI_Request req;
  check(MPI_Iallgather(in_place ? MPI_IN_PLACE : in.data(), to_int(in.size()), MPI_FLOAT,
                       out.data(), to_int(in.size()), MPI_FLOAT, comm_, &req),
        "Iallgather");
  wait(req, CommOp::all_gather);
}

void MpiCommunicator::broadcast(std::span<std::byte> data, int root) {
  // A chain root -> ... -> last: every rank but the last forwards the message once.
  count(CommOp::broadcast, (rank_ - root + size_) % size_ != size_ - 1 ? data.size() : 0);
  if (size_ == 1) return;
  MPI_Request req;
  check(MPI_Ibcast(data.data(), to_int(data.size()), MPI_BYTE, root, comm_, &req), "Ibcast");
  wait(req, CommOp::broadcast);
}

void MpiCommunicator::send(std::span<const float> data, int peer) {
  count(CommOp::send, 4ull * data.size());
  MPI_Request req;
  check(MPI_Isend(data.data(), to_int(data.size()), MPI_FLOAT, peer, 0, comm_, &req), "Isend");
  wait(req, CommOp::send);
}

void MpiCommunicator::recv(std::span<float> data, int peer) {
  count(CommOp::recv, 0);
  MPI_Request req;
  check(MPI_Irecv(data.data(), to_int(data.size()), MPI_FLOAT, peer, 0, comm_, &req), "Irecv");
  wait(req, CommOp::recv);
}

void MpiCommunicator::send_recv(std::span<const float> send_data, int send_peer,
                                std::span<float> recv_data, int recv_peer) {
  MPI_Request reqs[2];
  int n = 0;
  if (!recv_data.empty()) {
    count(CommOp::recv, 0);
    check(MPI_Irecv(recv_data.data(), to_int(recv_data.size()), MPI_FLOAT, recv_peer, 0, comm_,
                    &reqs[n++]),
          "Irecv");
  }
  if (!send_data.empty()) {
    count(CommOp::send, 4ull * send_data.size());
    check(MPI_Isend(send_data.data(), to_int(send_data.size()), MPI_FLOAT, send_peer, 0, comm_,
                    &reqs[n++]),
          "Isend");
  }
  if (n) wait_all({reqs, static_cast<std::size_t>(n)}, send_data.empty() ? CommOp::recv : CommOp::send);
}

void MpiCommunicator::barrier() {
  count(CommOp::barrier, 0);
  MPI_Request req;
  check(MPI_Ibarrier(comm_, &req), "Ibarrier");
  wait(req, CommOp::barrier);
}

namespace {

// Splits `world` so that ranks with equal group ids share a communicator, ordered by key.
std::unique_ptr<Communicator> split(MPI_Comm world, int color, int key, const char* name,
                                    double timeout_s) {
  MPI_Comm c;
  check(MPI_Comm_split(world, color, key, &c), "Comm_split");
  if (c == MPI_COMM_NULL) return nullptr;
  return std::make_unique<MpiCommunicator>(c, name, timeout_s);
}

}  // namespace

ProcessGroups make_process_groups(const Topology& topo, MPI_Comm world, double timeout_s) {
  int rank, size;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  GLM_CHECK(size == topo.world(), "topology {} on an MPI world of {}", topo.describe(), size);
  ProcessGroups g;
  MPI_Comm dup;
  check(MPI_Comm_dup(world, &dup), "Comm_dup");
  g.world = std::make_unique<MpiCommunicator>(dup, "world", timeout_s);
  const Topology::GroupSplits s = topo.group_splits(rank);
  g.tp = split(world, s.tp.color, s.tp.key, "tp", timeout_s);
  g.dp = split(world, s.dp.color, s.dp.key, "dp", timeout_s);
  g.pp = split(world, s.pp.color, s.pp.key, "pp", timeout_s);
  g.embedding = split(world, s.embedding.color < 0 ? MPI_UNDEFINED : s.embedding.color,
                      s.embedding.key, "embedding", timeout_s);
  return g;
}

}  // namespace glm::parallel
