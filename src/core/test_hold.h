// Test hook of the fault suite (tests/faults): lets a test land a kill or a signal at a point
// of its choosing, whatever the machine's speed. With GLM_TEST_HOLD=POINT:FILE in the
// environment, a process that reaches the point named POINT (`what`_`step`, e.g.
// after_step_2) waits there until FILE exists (or until `leave_early` returns true, polled
// with it). Several holds are separated by commas: GLM_TEST_HOLD=after_step_2:A,save_step_2:B.
// Without the variable hold_if_testing returns at once (one cached getenv, no formatting), so
// it may sit on the step loop.
//
// A process announces its arrival by creating FILE.held.<pid>, and a wait that leave_early
// ended by creating FILE.left.<pid>, so the test knows when its fault can land.
//
//   hold_if_testing("after_step", step, [] { return signal_arrived(); });
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace glm {

void hold_if_testing(std::string_view what, std::int64_t step,
                     const std::function<bool()>& leave_early = {});

}  // namespace glm
