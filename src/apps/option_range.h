// Range checks for the numeric options of the command-line programs: a value given outside
// its range is an InputError naming the option and the range (exit 2), raised before any
// file is read or memory is allocated. Options that were not given are not checked (their
// defaults are in range by construction).
//
//   require_range<std::int64_t>(vm, "train-iters", 1, kMaxSteps);      // [1, kMaxSteps]
//   require_above<double>(vm, "collective-timeout", 0, 7 * 86400);    // (0, 604800]
#pragma once

#include <boost/program_options/variables_map.hpp>
#include <cmath>
#include <string>

#include "core/error.h"

namespace glm::apps {

template <class T>
void require_range(const boost::program_options::variables_map& vm, const std::string& option,
                   T lo, T hi) {
  if (!vm.count(option)) return;
  const T v = vm[option].as<T>();
  if (!(v >= lo && v <= hi))  // !(...) also refuses NaN
    throw InputError(fmt::format("--{} {}: must be in [{}, {}]", option, v, lo, hi));
}

// lo < value <= hi: for quantities where zero means nothing (a timeout, a fraction).
template <class T>
void require_above(const boost::program_options::variables_map& vm, const std::string& option,
                   T lo, T hi) {
  if (!vm.count(option)) return;
  const T v = vm[option].as<T>();
  if (!(v > lo && v <= hi))
    throw InputError(fmt::format("--{} {}: must be in ({}, {}]", option, v, lo, hi));
}

}  // namespace glm::apps
