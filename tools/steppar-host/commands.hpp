// The commands of steppar-host, one function each.
#pragma once

#include <steppar/sdk.hpp>

#include <string>

namespace steppar::cli {

/// Runs `command` with its own argv (argv[0] is the command). Returns the exit code; throws
/// steppar::Error or boost::program_options::error for bad usage.
int dispatch(const std::string& command, int argc, char** argv);

}  // namespace steppar::cli
