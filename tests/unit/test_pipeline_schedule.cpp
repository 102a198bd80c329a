// The 1F1B schedule (parallel/pipeline_schedule.h): every stage runs every micro-batch
// forward then backward, keeps at most its slot count in flight, and the send/receive
// pairing the runner uses completes on every stage (a simulation of all stages, where an
// exchange completes once its peers have posted the matching operations) for many (P, M).
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>
#include <tuple>

#include "core/error.h"
#include "parallel/pipeline_schedule.h"

namespace glm::parallel {
namespace {

TEST(PipelineSchedule, EveryMicroBatchForwardThenBackwardWithinSlots) {
  for (int P : {1, 2, 3, 4, 8})
    for (int M : {1, 2, 3, 4, 7, 16})
      for (int s = 0; s < P; ++s) {
        auto steps = one_f_one_b(s, P, M);
        ASSERT_EQ(steps.size(), 2u * M);
        std::vector<int> fwd_done(M, 0), bwd_done(M, 0);
        int in_flight = 0, peak = 0, next_f = 0, next_b = 0;
        for (const auto& st : steps) {
          if (st.op == PipeOp::forward) {
            EXPECT_EQ(st.micro_batch, next_f++) << "forwards in order";
            ++in_flight;
          } else {
            EXPECT_EQ(st.micro_batch, next_b++) << "backwards in order";
            EXPECT_LT(st.micro_batch, next_f) << "backward before its forward";
            --in_flight;
          }
          peak = std::max(peak, in_flight);
        }
        EXPECT_EQ(peak, pipeline_slots(s, P, M)) << "P " << P << " M " << M << " stage " << s;
      }
}

TEST(PipelineSchedule, SendRecvPairingNeverDeadlocks) {
  // The runner's protocol (train/pipeline_runner.cpp): before each step, post the previous
  // step's send together with this step's receive; both must complete before the step runs.
  struct Msg { int from, to; bool grad; int mb; };
  for (int P : {2, 3, 4, 8})
    for (int M : {P, P + 1, 2 * P, 13}) {
      std::vector<std::vector<PipeStep>> sched(P);
      for (int s = 0; s < P; ++s) sched[s] = one_f_one_b(s, P, M);
      std::vector<std::size_t> pc(P, 0);                 // next step per stage
      std::vector<std::optional<Msg>> pending(P);        // the send posted with the next receive
      std::map<std::tuple<int, int, bool>, std::deque<int>> wire;  // sent, not yet received
      auto required_recv = [&](int s) -> std::optional<Msg> {
        if (pc[s] >= sched[s].size()) return std::nullopt;
        const PipeStep& st = sched[s][pc[s]];
        if (st.op == PipeOp::forward && s > 0) return Msg{s - 1, s, false, st.micro_batch};
        if (st.op == PipeOp::backward && s < P - 1) return Msg{s + 1, s, true, st.micro_batch};
        return std::nullopt;
      };
      // Sends are buffered by the simulation as soon as posted (MPI_Isend), receives complete
      // when the message is there; a stage blocks only on its receive.
      bool progress = true;
      int done = 0;
      while (done < P && progress) {
        progress = false;
        done = 0;
        for (int s = 0; s < P; ++s) {
          if (pc[s] > sched[s].size()) { ++done; continue; }
          if (pending[s]) {
            wire[{pending[s]->from, pending[s]->to, pending[s]->grad}].push_back(pending[s]->mb);
            pending[s].reset();
            progress = true;
          }
          if (pc[s] == sched[s].size()) { ++pc[s]; ++done; progress = true; continue; }
          auto need = required_recv(s);
          if (need) {
            auto& q = wire[{need->from, need->to, need->grad}];
            if (q.empty()) continue;  // blocked
            ASSERT_EQ(q.front(), need->mb) << "messages arrive in schedule order";
            q.pop_front();
          }
          const PipeStep& st = sched[s][pc[s]++];
          if (st.op == PipeOp::forward && s < P - 1) pending[s] = Msg{s, s + 1, false, st.micro_batch};
          if (st.op == PipeOp::backward && s > 0) pending[s] = Msg{s, s - 1, true, st.micro_batch};
          progress = true;
        }
      }
      EXPECT_EQ(done, P) << "deadlock with P " << P << " M " << M;
    }
}

TEST(PipelineSchedule, BubbleFraction) {
  EXPECT_DOUBLE_EQ(pipeline_bubble(1, 8), 0.0);
  EXPECT_DOUBLE_EQ(pipeline_bubble(4, 8), 3.0 / 11.0);
}

TEST(PipelineLayerSplit, EvenFirstLastAndErrors) {
  EXPECT_EQ(pipeline_layer_split(8, 4), (std::vector<int>{2, 2, 2, 2}));
  EXPECT_EQ(pipeline_layer_split(7, 3), (std::vector<int>{3, 2, 2}));
  // GLM-130B: 70 layers on 8 stages, 8 on the first and last, 9 on the others.
  EXPECT_EQ(pipeline_layer_split(70, 8, 8), (std::vector<int>{8, 9, 9, 9, 9, 9, 9, 8}));
  EXPECT_THROW(pipeline_layer_split(3, 4), InputError);
  EXPECT_THROW(pipeline_layer_split(70, 8, 7), InputError);  // 56 over 6 stages
}

}  // namespace
}  // namespace glm::parallel
