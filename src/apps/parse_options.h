// The command-line preamble every program shares: parse, answer --help, then run the
// options' notifiers (required options, value conversions; boost's errors become exit 2 in
// guarded_main).
//
//   po::variables_map vm;
//   if (auto stop = parse_options(po::command_line_parser(argc, argv).options(desc), argc,
//                                 desc, vm))
//     return *stop;
#pragma once

#include <iostream>
#include <optional>

#include <boost/program_options.hpp>

namespace glm::apps {

struct HelpPolicy {
  bool bare_is_usage = true;  // a command given no argument prints the help and exits 2
  bool print = true;          // false: print nothing (the ranks of an MPI job other than 0)
};

// The exit status to end with instead of running (0 after --help), or nullopt.
inline std::optional<int> parse_options(boost::program_options::command_line_parser parser,
                                        int argc,
                                        const boost::program_options::options_description& help,
                                        boost::program_options::variables_map& vm,
                                        HelpPolicy policy = {}) {
  boost::program_options::store(parser.run(), vm);
  const bool asked = vm.count("help") > 0;
  if (asked || (policy.bare_is_usage && argc == 1)) {
    if (policy.print) std::cout << help << "\n";
    return asked ? 0 : 2;
  }
  boost::program_options::notify(vm);
  return std::nullopt;
}

}  // namespace glm::apps
