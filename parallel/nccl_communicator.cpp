#include "parallel/nccl_communicator.h"

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/cuda/cuda_stream.h"
#include "parallel/deadline.h"
#include "core/device_copy.h"

namespace glm::parallel {
namespace {

void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw Error(fmt::format("CUDA {} failed: {}", what, cudaGetErrorString(e)));
}

void check_nccl(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) throw Error(fmt::format("NCCL {} failed: {}", what, ncclGetErrorString(r)));
}

void check_mpi(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Error(fmt::format("MPI {} failed (code {})", what, rc));
}

// Restores the caller's current device on scope exit.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    check_cuda(cudaGetDevice(&previous_), "cudaGetDevice");
    check_cuda(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(previous_); }

 private:
  int previous_ = 0;
};

// NCCL moves device memory only. Host buffers (the scalars a trainer agrees on: loss,
// overflow flag, gradient norm, stop signals) travel through a device copy.
bool is_host_memory(const void* p) {
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();  // clear the error of an unknown pointer: plain host memory
    return true;
  }
  return a.type == cudaMemoryTypeUnregistered || a.type == cudaMemoryTypeHost;
}

template <class T>
bool on_host(std::span<T> s) {
  return !s.empty() && is_host_memory(s.data());
}

// The device-side stand-in for one operation's buffer: the span itself when it is device
// memory, else a device copy (filled from the host for inputs, copied back by finish()
// for outputs).
template <class T>
class Staged {
 public:
  Staged(std::span<T> s, int device, bool is_input) : host_(s) {
    if (!on_host(s)) {
      dev_ = s;
      return;
    }
    staged_ = true;
    buf_ = Tensor::empty({static_cast<std::int64_t>(std::max<std::size_t>(s.size_bytes(), 1))},
                         DType::u8, Device::cuda(device));
    dev_ = std::span<T>(static_cast<T*>(buf_.raw()), s.size());
    if (is_input) copy_bytes(buf_.raw(), buf_.device(), s.data(), Device::cpu(), s.size_bytes());
  }
  std::span<T> span() const { return dev_; }
  void finish() {
    if (staged_)
      copy_bytes(const_cast<std::remove_const_t<T>*>(host_.data()), Device::cpu(), buf_.raw(),
                 buf_.device(), host_.size_bytes());
  }

 private:
  std::span<T> host_, dev_;
  bool staged_ = false;
  Tensor buf_;
};

}  // namespace

// --- NcclWork ------------------------------------------------------------------------

NcclWork::NcclWork(NcclWork&& o) noexcept : comm_(o.comm_), op_(o.op_), done_(o.done_) {
  o.comm_ = nullptr;
  o.done_ = nullptr;
}

NcclWork& NcclWork::operator=(NcclWork&& o) noexcept {
  if (this != &o) {
    if (done_) wait();
    comm_ = o.comm_;
    op_ = o.op_;
    done_ = o.done_;
    o.comm_ = nullptr;
    o.done_ = nullptr;
  }
  return *this;
}

NcclWork::~NcclWork() {
  if (done_) wait();
}

bool NcclWork::ready() const {
  if (!done_) return true;
  const cudaError_t e = cudaEventQuery(done_);
  if (e == cudaErrorNotReady) return false;
  check_cuda(e, "cudaEventQuery");
  return true;
}

void NcclWork::wait() {
  if (!done_) return;
  comm_->poll(done_, op_);
  // The caller's stream sees the result from here on.
  check_cuda(cudaStreamWaitEvent(kernels::cuda::current_stream(), done_, 0), "cudaStreamWaitEvent");
  cudaEventDestroy(done_);
  done_ = nullptr;
}

// --- NcclCommunicator ------------------------------------------------------------------

NcclCommunicator::NcclCommunicator(MPI_Comm group, std::string name, double timeout_s, int device)
    : Communicator(std::move(name)), device_(device), timeout_s_(timeout_s) {
  check_mpi(MPI_Comm_rank(group, &rank_), "Comm_rank");
  check_mpi(MPI_Comm_size(group, &size_), "Comm_size");
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank_), "Comm_rank(world)");
  DeviceScope on(device_);
  ncclUniqueId id{};
  if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  // The id travels over MPI, polled against the same deadline as every collective.
  MPI_Request req;
  check_mpi(MPI_Ibcast(&id, sizeof(id), MPI_BYTE, 0, group, &req), "Ibcast(ncclUniqueId)");
  const auto start = std::chrono::steady_clock::now();
  for (int done = 0;;) {
    check_mpi(MPI_Test(&req, &done, MPI_STATUS_IGNORE), "Test(ncclUniqueId)");
    if (done) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
        timeout_s_) {
      spdlog::error("rank {} (group {}, rank {} of {}): NCCL set-up did not complete within {:g} s; "
                    "aborting the job",
                    world_rank_, this->name(), rank_, size_, timeout_s_);
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  {
    // ncclCommInitRank blocks until every rank of the group has joined: bounded by the
    // collective timeout, so a peer that died before joining ends the job with a message.
    Deadline deadline(timeout_s_, [this] {
      spdlog::error("rank {} (group {}, rank {} of {}): ncclCommInitRank did not complete within "
                    "{:g} s (a peer has died or hangs); aborting the job",
                    world_rank_, this->name(), rank_, size_, timeout_s_);
      MPI_Abort(MPI_COMM_WORLD, 3);
    });
    check_nccl(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
  }
  check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  check_cuda(cudaMalloc(&barrier_buf_, sizeof(float)), "cudaMalloc(barrier)");
}

NcclCommunicator::~NcclCommunicator() {
  DeviceScope on(device_);
  if (stream_) cudaStreamSynchronize(stream_);
  if (comm_) ncclCommDestroy(comm_);
  if (stream_) cudaStreamDestroy(stream_);
  if (barrier_buf_) cudaFree(barrier_buf_);
}

void NcclCommunicator::begin() {
  // The comm stream starts where the caller's stream is now: the data is ready.
  cudaEvent_t ready;
  check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreate");
  check_cuda(cudaEventRecord(ready, kernels::cuda::current_stream()), "cudaEventRecord");
  check_cuda(cudaStreamWaitEvent(stream_, ready, 0), "cudaStreamWaitEvent");
  cudaEventDestroy(ready);  // the runtime defers the release until the event completes
}

cudaEvent_t NcclCommunicator::finish() {
  cudaEvent_t done;
  check_cuda(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), "cudaEventCreate");
  check_cuda(cudaEventRecord(done, stream_), "cudaEventRecord");
  return done;
}

void NcclCommunicator::abort_job(CommOp op, const std::string& why) {
  spdlog::error("rank {} (group {}, rank {} of {}): {} {}; aborting the job", world_rank_, name(),
                rank_, size_, comm_op_name(op), why);
  ncclCommAbort(comm_);
  comm_ = nullptr;
  MPI_Abort(MPI_COMM_WORLD, 3);
  std::abort();  // MPI_Abort does not return; keeps [[noreturn]] honest
}

void NcclCommunicator::poll(cudaEvent_t done, CommOp op) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  for (long polls = 0;; ++polls) {
    const cudaError_t e = cudaEventQuery(done);
    if (e == cudaSuccess) {
      add_seconds(std::chrono::duration<double>(clock::now() - start).count());
      return;
    }
    if (e != cudaErrorNotReady) check_cuda(e, comm_op_name(op));
    ncclResult_t async = ncclSuccess;
    check_nccl(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
    if (async != ncclSuccess && async != ncclInProgress)
      abort_job(op, fmt::format("failed: {}", ncclGetErrorString(async)));
    const double waited = std::chrono::duration<double>(clock::now() - start).count();
    if (waited > timeout_s_)
      abort_job(op, fmt::format("did not complete within {:g} s (a peer has died or hangs)",
                                timeout_s_));
    if (polls > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void NcclCommunicator::run_blocking(CommOp op, cudaEvent_t done) {
  poll(done, op);
  check_cuda(cudaStreamWaitEvent(kernels::cuda::current_stream(), done, 0), "cudaStreamWaitEvent");
  cudaEventDestroy(done);
}

void NcclCommunicator::all_reduce_sum(std::span<float> data) {
  if (on_host(data)) {
    Staged<float> d(data, device_, true);
    all_reduce_sum(d.span());
    return d.finish();
  }
  count(CommOp::all_reduce, size_ > 1 ? 2ull * (size_ - 1) * 4 * data.size() / size_ : 0);
  DeviceScope on(device_);
  begin();
  check_nccl(ncclAllReduce(data.data(), data.data(), data.size(), ncclFloat, ncclSum, comm_, stream_),
             "ncclAllReduce");
  run_blocking(CommOp::all_reduce, finish());
}

void NcclCommunicator::all_reduce_sum(std::span<double> data) {
  if (on_host(data)) {
    Staged<double> d(data, device_, true);
    all_reduce_sum(d.span());
    return d.finish();
  }
  count(CommOp::all_reduce, size_ > 1 ? 2ull * (size_ - 1) * 8 * data.size() / size_ : 0);
  DeviceScope on(device_);
  begin();
  check_nccl(ncclAllReduce(data.data(), data.data(), data.size(), ncclDouble, ncclSum, comm_,
                           stream_),
             "ncclAllReduce");
  run_blocking(CommOp::all_reduce, finish());
}

NcclWork NcclCommunicator::all_reduce_sum_async(std::span<float> data) {
  count(CommOp::all_reduce, size_ > 1 ? 2ull * (size_ - 1) * 4 * data.size() / size_ : 0);
  DeviceScope on(device_);
  begin();
  check_nccl(ncclAllReduce(data.data(), data.data(), data.size(), ncclFloat, ncclSum, comm_, stream_),
             "ncclAllReduce");
  return NcclWork(this, CommOp::all_reduce, finish());
}

namespace {
struct NcclCommWork final : CommWork {
  explicit NcclCommWork(NcclWork w) : work(std::move(w)) {}
  void wait() override { work.wait(); }
  NcclWork work;
};
}  // namespace

std::unique_ptr<CommWork> NcclCommunicator::all_reduce_sum_start(std::span<float> data) {
  if (on_host(data)) return Communicator::all_reduce_sum_start(data);
  return std::make_unique<NcclCommWork>(all_reduce_sum_async(data));
}

void NcclCommunicator::reduce_scatter_sum(std::span<const float> in, std::span<float> out) {
  GLM_CHECK(in.size() == out.size() * size_, "reduce_scatter: in {} != {} x out {}", in.size(),
            size_, out.size());
  if (on_host(in) || on_host(out)) {
    Staged<const float> i(in, device_, true);
    Staged<float> o(out, device_, false);
    reduce_scatter_sum(i.span(), o.span());
    return o.finish();
  }
  count(CommOp::reduce_scatter, 4ull * (size_ - 1) * out.size());
  DeviceScope on(device_);
  begin();
  check_nccl(ncclReduceScatter(in.data(), out.data(), out.size(), ncclFloat, ncclSum, comm_, stream_),
             "ncclReduceScatter");
  run_blocking(CommOp::reduce_scatter, finish());
}

void NcclCommunicator::all_gather(std::span<const float> in, std::span<float> out) {
  GLM_CHECK(out.size() == in.size() * size_, "all_gather: out {} != {} x in {}", out.size(), size_,
            in.size());
  if (on_host(in) || on_host(out)) {
    Staged<const float> i(in, device_, true);
    Staged<float> o(out, device_, false);
    all_gather(i.span(), o.span());
    return o.finish();
  }
  count(CommOp::all_gather, 4ull * (size_ - 1) * in.size());
  DeviceScope on(device_);
  begin();
  check_nccl(ncclAllGather(in.data(), out.data(), in.size(), ncclFloat, comm_, stream_),
             "ncclAllGather");
  run_blocking(CommOp::all_gather, finish());
}

void NcclCommunicator::broadcast(std::span<std::byte> data, int root) {
  if (on_host(data)) {
    Staged<std::byte> d(data, device_, true);
    broadcast(d.span(), root);
    return d.finish();
  }
  count(CommOp::broadcast, (rank_ - root + size_) % size_ != size_ - 1 ? data.size() : 0);
  DeviceScope on(device_);
  begin();
  check_nccl(ncclBroadcast(data.data(), data.data(), data.size(), ncclUint8, root, comm_, stream_),
             "ncclBroadcast");
  run_blocking(CommOp::broadcast, finish());
}

void NcclCommunicator::send(std::span<const float> data, int peer) {
  if (on_host(data)) {
    Staged<const float> d(data, device_, true);
    return send(d.span(), peer);
  }
  count(CommOp::send, 4ull * data.size());
  DeviceScope on(device_);
  begin();
  check_nccl(ncclSend(data.data(), data.size(), ncclFloat, peer, comm_, stream_), "ncclSend");
  run_blocking(CommOp::send, finish());
}

void NcclCommunicator::recv(std::span<float> data, int peer) {
  if (on_host(data)) {
    Staged<float> d(data, device_, false);
    recv(d.span(), peer);
    return d.finish();
  }
  count(CommOp::recv, 0);
  DeviceScope on(device_);
  begin();
  check_nccl(ncclRecv(data.data(), data.size(), ncclFloat, peer, comm_, stream_), "ncclRecv");
  run_blocking(CommOp::recv, finish());
}

void NcclCommunicator::send_recv(std::span<const float> send_data, int send_peer,
                                 std::span<float> recv_data, int recv_peer) {
  if (on_host(send_data) || on_host(recv_data)) {
    Staged<const float> out(send_data, device_, true);
    Staged<float> in(recv_data, device_, false);
    send_recv(out.span(), send_peer, in.span(), recv_peer);
    return in.finish();
  }
  count(CommOp::send, 4ull * send_data.size());
  count(CommOp::recv, 0);
  DeviceScope on(device_);
  begin();
  // One group: both operations progress together, so opposite exchanges cannot deadlock.
  check_nccl(ncclGroupStart(), "ncclGroupStart");
  if (!send_data.empty())
    check_nccl(ncclSend(send_data.data(), send_data.size(), ncclFloat, send_peer, comm_, stream_),
               "ncclSend");
  if (!recv_data.empty())
    check_nccl(ncclRecv(recv_data.data(), recv_data.size(), ncclFloat, recv_peer, comm_, stream_),
               "ncclRecv");
  check_nccl(ncclGroupEnd(), "ncclGroupEnd");
  run_blocking(CommOp::send, finish());
}

void NcclCommunicator::barrier() {
  count(CommOp::barrier, 0);
  DeviceScope on(device_);
  begin();
  // A one-float all-reduce: completes only when every rank has reached it.
  check_nccl(ncclAllReduce(barrier_buf_, barrier_buf_, 1, ncclFloat, ncclSum, comm_, stream_),
             "ncclAllReduce(barrier)");
  run_blocking(CommOp::barrier, finish());
}

namespace {

std::unique_ptr<Communicator> split(MPI_Comm world, int color, int key, const char* name,
                                    double timeout_s, int device) {
  MPI_Comm c;
  check_mpi(MPI_Comm_split(world, color, key, &c), "Comm_split");
  if (c == MPI_COMM_NULL) return nullptr;
  auto comm = std::make_unique<NcclCommunicator>(c, name, timeout_s, device);
  MPI_Comm_free(&c);  // only needed to agree on the NCCL id
  return comm;
}

}  // namespace

ProcessGroups make_nccl_process_groups(const Topology& topo, MPI_Comm world, double timeout_s,
                                       int device) {
  int rank, size;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  GLM_CHECK(size == topo.world(), "topology {} on an MPI world of {}", topo.describe(), size);
  ProcessGroups g;
  g.world = split(world, 0, rank, "world", timeout_s, device);
  const Topology::GroupSplits s = topo.group_splits(rank);
  g.tp = split(world, s.tp.color, s.tp.key, "tp", timeout_s, device);
  g.dp = split(world, s.dp.color, s.dp.key, "dp", timeout_s, device);
  g.pp = split(world, s.pp.color, s.pp.key, "pp", timeout_s, device);
  g.embedding = split(world, s.embedding.color < 0 ? MPI_UNDEFINED : s.embedding.color,
                      s.embedding.key, "embedding", timeout_s, device);
  return g;
}

}  // namespace glm::parallel
