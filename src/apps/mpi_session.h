// MPI for the lifetime of a program (also as a singleton without mpirun), and the
// tensor-parallel group of the serving programs (glm-generate, glm-eval): every rank of the
// job is one shard of a model file exported with --tp (infer/engine.h).
#pragma once

#include <mpi.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>

#include "core/cuda_device.h"
#include "data/tokenizer.h"
#include "infer/device.h"
#include "infer/engine.h"
#include "plan/inference_plan.h"
#include "parallel/mpi_communicator.h"
#include "parallel/topology.h"
#ifdef GLM_WITH_NCCL
#include "parallel/nccl_communicator.h"
#endif

namespace glm::apps {

struct MpiSession {
  int rank = 0, size = 1;
  MpiSession(int& argc, char**& argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  ~MpiSession() { MPI_Finalize(); }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

// This rank's index among the ranks of its node, and their number (whatever the launcher:
// mpirun, srun, a singleton).
struct NodeRanks {
  int rank = 0, size = 1;
  explicit NodeRanks(MPI_Comm world) {
    MPI_Comm node;
    MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &rank);
    MPI_Comm_size(node, &size);
    MPI_Comm_free(&node);
  }
};

// All ranks as one tensor-parallel group, collectives bounded by timeout_s as in training;
// empty groups for a single process. On CUDA each rank takes its node's GPU of its local
// index (parallel::rank_gpu) and the groups are NCCL's; `device` becomes that GPU.
inline parallel::ProcessGroups serving_groups(const MpiSession& mpi, double timeout_s,
                                              Device& device) {
  if (mpi.size == 1) return {};
  const parallel::Topology topology(1, mpi.size, 1, mpi.size);
  if (device.is_cuda()) {
    const NodeRanks node(MPI_COMM_WORLD);
    const int gpu = parallel::rank_gpu(node.rank, node.size, cuda_device_count());
    set_current_cuda_device(gpu);
    device = Device::cuda(gpu);
#ifdef GLM_WITH_NCCL
    return parallel::make_nccl_process_groups(topology, MPI_COMM_WORLD, timeout_s, gpu);
#else
    throw InputError(fmt::format("serving over {} ranks on GPUs needs NCCL, which this build "
                                 "lacks (rebuild where cmake finds nccl.h), or use --device cpu",
                                 mpi.size));
#endif
  }
  return parallel::make_process_groups(topology, MPI_COMM_WORLD, timeout_s);
}

// What one rank holds: its weights (its shard's linears, its vocabulary rows of the
// embedding, the replicated LayerNorms), its KV cache's bytes per token (its own heads) and the activation buffers of
// a prefill of the model's context (plan/inference_plan.h counts them the same way).
inline void log_serving_memory(const infer::Engine& engine, int rank, int ranks) {
  const modeldef::ModelConfig& c = engine.config();
  const double kv_per_token = 2.0 * c.num_layers * c.hidden_size *
                              dtype_bytes(engine.kv_cache(), 1) / engine.model().tp *
                              (engine.tp_group() ? 1 : engine.model().tp);
  const double activations = plan::inference_activation_bytes(
      c, engine.tp_group() ? engine.model().tp : 1, c.seq_length);
  spdlog::info("rank {} of {}: {:.1f} MB of weights resident ({}-bit linears, tp {}{}), KV cache "
               "{:.1f} KB a token ({}), activations {:.1f} MB for a prefill of {} tokens",
               rank, ranks, engine.model().resident_bytes() / 1e6, engine.model().bits,
               engine.model().tp, engine.tp_group() ? ", this rank's shard" : ", every shard",
               kv_per_token / 1e3, dtype_name(engine.kv_cache()), activations / 1e6,
               c.seq_length);
}

// One rank of a serving program: its groups and its engine (which keeps a pointer to the
// tensor-parallel group, so they travel together). Under mpirun -n N each rank loads its own
// shard of a --tp N export; ranks other than 0 print nothing on stdout and log only
// warnings after reporting what they hold.
struct ServingRank {
  parallel::ProcessGroups groups;
  std::unique_ptr<infer::Engine> engine;
  std::string model_path;

  // The tokenizer the model file carries.
  data::Tokenizer tokenizer() const {
    return data::Tokenizer::from_bytes(engine->model().tokenizer_bytes,
                                       model_path + " (tokenizer)");
  }
};

// kv_cache and activations as --kv-cache and --activations give them (infer/device.h).
inline ServingRank open_serving_rank(const MpiSession& mpi, const std::string& model_path,
                                     Device device, const std::string& kv_cache,
                                     const std::string& activations) {
  const DType kv = infer::parse_kv_cache(kv_cache);
  const kernels::QuantActivations acts = infer::parse_activations(activations);
  ServingRank s;
  s.model_path = model_path;
  s.groups = serving_groups(mpi, 600, device);
  if (mpi.rank != 0) std::cout.rdbuf(nullptr);
  s.engine = std::make_unique<infer::Engine>(
      infer::load_model_file(model_path,
                             mpi.size > 1 ? std::optional<int>(mpi.rank) : std::nullopt),
      device, s.groups.tp.get());
  s.engine->set_kv_cache(kv);
  s.engine->set_activations(acts);
  log_serving_memory(*s.engine, mpi.rank, mpi.size);  // every rank's own
  if (mpi.rank != 0) spdlog::set_level(spdlog::level::warn);
  return s;
}

}  // namespace glm::apps
