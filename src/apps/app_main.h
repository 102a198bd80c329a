// The shared outer frame of every command-line program: one clear line per failure and the
// exit status contract of docs/design.md section 1 (0 ok, 2 bad usage or input, 1 internal).
#pragma once

#include <exception>

#include <boost/program_options/errors.hpp>
#include <spdlog/spdlog.h>

#include "core/error.h"

namespace glm::apps {

template <class Run>
int guarded_main(Run&& run) {
  try {
    return run();
  } catch (const boost::program_options::error& e) {
    spdlog::error("{} (see --help)", e.what());
    return 2;
  } catch (const InputError& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const SystemError& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return 1;
  }
}

}  // namespace glm::apps
