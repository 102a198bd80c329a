// A job in which rank 1 never joins a collective: rank 0's all-reduce must time out, log
// which rank and operation, and abort the whole job (tests/CMakeLists.txt checks the
// message and that the job ends well before ctest's timeout).
#include <mpi.h>

#include <chrono>
#include <thread>
#include <vector>

#include "parallel/mpi_communicator.h"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  glm::parallel::Topology topo(size, 1, 1, size);
  auto groups = glm::parallel::make_process_groups(topo, MPI_COMM_WORLD, /*timeout_s=*/3);
  std::vector<float> x(16, 1.f);
  if (rank == 1) {
    std::this_thread::sleep_for(std::chrono::seconds(120));  // a hung peer
  } else {
    groups.world->all_reduce_sum(x);
  }
  MPI_Finalize();
  return 0;
}
